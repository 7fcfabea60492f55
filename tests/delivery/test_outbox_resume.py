"""Resume after a crash inside the move into the spool (between link and unlink)."""

from __future__ import annotations

import os
from pathlib import Path

from practice_client.context import Context
from practice_client.core.models import DocumentState
from practice_client.delivery import outbox
from practice_client.delivery.spool import ORIGINAL, Spool
from tests.support.worlds import World, accepted_request, pin_patient, write_file


def test_crash_between_link_and_unlink_resumes_once(world: World, client: Context) -> None:
    patient = pin_patient(client, world, "1001")
    request_id = accepted_request(client, patient.fingerprint, "1001")
    source = write_file(Path(client.config.export_dir) / "1001_12081964_brief.pdf", b"two names, one file")
    doc = outbox._new_row(client, source, os.lstat(source), {"origin": outbox.ORIGIN_EXPORT, "folder": None})
    spool = Spool.of(client).folder(doc.document_id)
    spool.mkdir(parents=True)
    os.link(source, spool / ORIGINAL)  # ... and the process died here

    assert [d.document_id for d in outbox.resume(client)] == [doc.document_id]
    resumed = client.store.get_document(doc.document_id)
    assert resumed is not None and resumed.state is DocumentState.MATCHED
    assert resumed.request_id == request_id
    assert not source.exists()  # the export folder's name is gone: no second ingest
    assert os.lstat(spool / ORIGINAL).st_nlink == 1
    assert len(client.store.list_documents()) == 1
