"""A patient-named file in the export folder that makes a command fail unexpectedly: the
command line logs the failure (type, errno, frames, the document id), never the error's
text, which names the file and so the patient. Real files, a real second file system for
the spool (tmpfs), the real command in a fresh process."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from practice_client.context import Context
from practice_client.core.models import DocumentState
from practice_client.delivery import outbox
from tests.conftest import require
from tests.support.cli import run_cli
from tests.support.worlds import World

PATIENT_FILE = "1001_Mustermann_Erika_Befund.pdf"


def test_a_failing_retry_of_a_patient_named_file_logs_no_name(world: World, client: Context) -> None:
    export = Path(client.config.export_dir)
    os.mkfifo(export / PATIENT_FILE)  # not a file: refused, parked in failed/ as it is
    doc = outbox.ingest(client, export / PATIENT_FILE)
    assert doc.state is DocumentState.FAILED and os.path.lexists(export / "failed" / PATIENT_FILE)
    client.close()

    spool = client.home.spool  # on another file system: the retry has to copy, and cannot
    spool.mkdir(exist_ok=True)
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(spool)],
                             capture_output=True, check=False).returncode == 0
    require(mounted, "permission to mount a tmpfs as the spool (root)")
    try:
        done = run_cli("outbox", "--retry", doc.document_id)
    finally:
        subprocess.run(["umount", str(spool)], check=False)

    assert done.returncode == 1 and "internal error (OSError)" in done.stderr, done.stderr
    text = "".join(p.read_text("utf-8", "replace") for p in (client.home.root / "logs").glob("*"))
    assert "unexpected error in outbox" in text and "OSError [errno 22]" in text
    assert "Mustermann" not in text and "Erika" not in text
