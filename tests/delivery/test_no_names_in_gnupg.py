"""A stolen disk shows no patient's name in the client's GnuPG home: pinned keys (whose
user ids are the patients' names) stay in the encrypted database and reach gpg only from
memory (``--recipient-file`` through a FIFO) or in throw-away homes. A home of an earlier
version, which imported them, is rebuilt once without them. Real gpg, real deliveries."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from practice_client.context import Context
from practice_client.core.models import DocumentState
from practice_client.crypto import patient_keys
from practice_client.service.agent import Agent
from tests.support.delivery import patient_reads
from tests.support.patients import PATIENTS
from tests.support.worlds import World, accepted_request, pin_patient, wait_state, write_file


def names_in(folder: Path) -> list[str]:
    """Every file below ``folder`` holding a test patient's name (as gpg stores a user id)."""
    names = [p.name.encode() for p in PATIENTS] + [b"Mustermann", b"Beispiel"]
    return [str(p.relative_to(folder)) for p in folder.rglob("*")
            if p.is_file() and not p.is_socket() and any(n in p.read_bytes() for n in names)]


@pytest.fixture
def agent(client: Context) -> Iterator[Agent]:
    running = Agent(client, sources=[])
    running.start()
    yield running
    running.stop()


def test_pinning_and_delivering_leave_no_name_in_the_gnupg_home(
        world: World, client: Context, agent: Agent) -> None:
    patient = pin_patient(client, world, "1001")
    accepted_request(client, patient.fingerprint, "1001")
    write_file(Path(client.config.export_dir) / "1001_12081964_brief.pdf", b"a letter")
    (doc,) = wait_state(client, DocumentState.DELIVERED)
    data, _, signed, _ = patient_reads(world, doc.document_id)
    assert data == b"a letter" and signed
    assert names_in(client.home.gnupg) == []
    assert not list(client.home.root.rglob(".recipient-*"))  # no key file left behind


def test_a_home_of_an_earlier_version_is_rebuilt_without_the_names(world: World, client: Context) -> None:
    # what earlier versions did: pinned keys imported into the home (one unpinned and deleted since)
    erika = pin_patient(client, world, "1001")
    client.gpg.import_keys(erika.public_key())
    client.gpg.import_keys(world.patients["1003"].public_key())
    client.gpg.delete_key(world.patients["1003"].fingerprint)  # gpg only marks it deleted
    (client.home.gnupg / patient_keys.SCRUBBED).unlink(missing_ok=True)
    assert "pubring.kbx" in names_in(client.home.gnupg)

    agent = Agent(client, sources=[])
    agent.start()  # the upgrade: the first start rebuilds the keybox
    try:
        assert names_in(client.home.gnupg) == []
        assert client.gpg.fingerprints() == sorted(
            [client.config.practice_key_fingerprint, client.config.ident_key_fingerprint])
        accepted_request(client, erika.fingerprint, "1001")
        write_file(Path(client.config.export_dir) / "1001_12081964_brief.pdf", b"after the upgrade")
        (doc,) = wait_state(client, DocumentState.DELIVERED)  # the practice key still signs
    finally:
        agent.stop()
    assert patient_reads(world, doc.document_id)[:3:2] == (b"after the upgrade", True)
    assert [e["event"] for e in client.store.audit.entries()].count("gnupg.patient_keys_removed") == 1
    assert not patient_keys.scrub_home(client)  # once
