"""The spool holds no plaintext original of a document that waits - unassigned (for staff)
or failed (for a retry): a stolen disk shows none of them. The original and its GDT
sidecar are sealed (chunked AES-256-GCM, a key from the keyring) the moment the document
starts to wait, opened again when work on it goes on, and a crash in between is sealed
at the next start. Real gpg, HTTPS to the testbed, watchdog, the OS keyring."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

from practice_client.context import Context
from practice_client.core.models import DocumentState
from practice_client.delivery import outbox
from practice_client.delivery.spool import ORIGINAL, SEALED, Spool
from practice_client.service.agent import Agent
from tests.support.delivery import gdt, patient_reads
from tests.support.waiting import wait_for
from tests.support.worlds import World, accepted_request, pin_patient, wait_state, write_file


@pytest.fixture
def agent(client: Context, world: World) -> Iterator[Agent]:
    world.platform.faults.clear()
    running = Agent(client, sources=[])
    running.start()
    yield running
    running.stop()
    world.platform.faults.clear()


def plaintext_in(folder: Path, *needles: bytes) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file() and any(n in p.read_bytes() for n in needles)]


def test_an_unassigned_document_and_its_sidecar_wait_sealed_then_go_out_intact(
        world: World, client: Context, agent: Agent) -> None:
    patient = pin_patient(client, world, "1001")
    content = b"Laborbefund " + secrets.token_bytes(200_000)
    export = Path(client.config.export_dir)
    write_file(export / "labor.pdf.gdt", gdt([("3000", "1001"), ("3101", "Mustermann"), ("3102", "Erika"),
                                              ("3103", "12081964")]))
    write_file(export / "labor.pdf", content)  # no accepted request yet: staff must assign it
    (doc,) = wait_state(client, DocumentState.UNASSIGNED)
    spool = Spool.of(client).folder(doc.document_id)
    wait_for(lambda: all((spool / sealed).exists() and not (spool / part).exists()
                         for part, sealed in SEALED.items()),
             what="the original and the sidecar sealed, the plain files gone")
    assert plaintext_in(client.home.spool, content[:64], b"Mustermann", b"Erika") == []

    request_id = accepted_request(client, patient.fingerprint, "1001")
    agent.assign(doc.document_id, request_id, "12.08.1964")  # staff confirm the birth date
    (done,) = wait_state(client, DocumentState.DELIVERED)
    assert patient_reads(world, done.document_id)[0] == content
    assert (export / "processed" / "labor.pdf.gdt").read_bytes().find(b"Mustermann") > 0


def test_a_failed_document_kept_for_a_retry_waits_sealed(world: World, client: Context, agent: Agent,
                                                        work_dir: Path) -> None:
    patient = pin_patient(client, world, "1001")
    request_id = accepted_request(client, patient.fingerprint, "1001")
    content = b"Arztbrief " + secrets.token_bytes(100_000)
    mine = write_file(work_dir / "Arztbrief Mustermann.pdf", content)
    world.platform.faults.fail_next("upload.create", count=1, status=413)  # refused for good
    (sent,) = agent.add_files([mine], request_id)
    (doc,) = wait_state(client, DocumentState.FAILED)
    spool = Spool.of(client).folder(doc.document_id)
    wait_for(lambda: not (spool / ORIGINAL).exists(), what="the kept original sealed")
    assert (spool / SEALED[ORIGINAL]).exists()
    assert plaintext_in(client.home.spool, content[:64]) == []

    agent.retry(doc.document_id)
    (done,) = wait_state(client, DocumentState.DELIVERED)
    assert done.document_id == sent.document_id and patient_reads(world, done.document_id)[0] == content
    assert not spool.exists()


def test_a_crash_before_the_seal_is_sealed_at_the_next_start(world: World, client: Context) -> None:
    content = b"Befund " + os.urandom(70_000)
    export = Path(client.config.export_dir)
    write_file(export / "befund.pdf", content)
    doc = outbox.ingest(client, export / "befund.pdf")
    assert doc.state is DocumentState.UNASSIGNED
    spool = Spool.of(client).folder(doc.document_id)
    sealed = spool / SEALED[ORIGINAL]
    outbox.wake(client, doc.document_id)  # as a crash between "unassigned" and the seal leaves it
    assert (spool / ORIGINAL).read_bytes() == content and not sealed.exists()
    outbox.resume(client)
    assert sealed.exists() and not (spool / ORIGINAL).exists()
    # a crash after the sealed copy was written, before the plain file went: both are there
    outbox.wake(client, doc.document_id)
    os.link(spool / ORIGINAL, spool / "copy")
    outbox.rest(client, doc.document_id)
    os.rename(spool / "copy", spool / ORIGINAL)
    outbox.resume(client)
    assert sealed.exists() and not (spool / ORIGINAL).exists()
    assert plaintext_in(client.home.spool, content[:64]) == []


def test_a_sealed_original_from_another_document_is_refused(world: World, client: Context) -> None:
    export = Path(client.config.export_dir)
    first, second = (outbox.ingest(client, write_file(export / name, os.urandom(1000)))
                     for name in ("a.pdf", "b.pdf"))
    a, b = (Spool.of(client).folder(d.document_id) / SEALED[ORIGINAL] for d in (first, second))
    os.replace(a, b)  # someone with the disk swaps the sealed files of two documents
    with pytest.raises(Exception, match="another document"):
        outbox.wake(client, second.document_id)
