"""End to end: a file dropped into the export folder reaches the right patient.

Real gpg, real HTTPS to the testbed platform, real watchdog events; the patient's
side (simulated app) downloads, decrypts and checks the practice signature."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from practice_client.context import Context
from practice_client.core.gdt import build_record, parse_gdt
from practice_client.core.models import DocumentState, RequestStatus
from practice_client.delivery.events import Event
from practice_client.service.agent import Agent
from tests.support.delivery import export, gdt, patient_reads
from tests.support.waiting import wait_for
from tests.support.worlds import World, accepted_request, documents, pin_patient, sha256, wait_state, write_file

pytestmark = pytest.mark.slow

@pytest.fixture
def agent(client: Context) -> Iterator[tuple[Agent, list[Event]]]:
    events: list[Event] = []
    running = Agent(client, on_event=events.append, sources=[])
    running.start()
    yield running, events
    running.stop()


def test_pattern_match_delivers_and_patient_decrypts(world: World, client: Context, agent) -> None:
    patient = pin_patient(client, world, "1001")
    request_id = accepted_request(client, patient.fingerprint, "1001")
    content = os.urandom(300_000)
    write_file(export(client) / "1001_12081964_Arztbrief März.pdf", content)

    (doc,) = wait_state(client, DocumentState.DELIVERED)
    assert doc.request_id == request_id and doc.match_method == "pattern"
    progress = [(e.phase, e.bytes_done, e.bytes_total) for e in agent[1]
                if e.kind == "progress" and e.document_id == doc.document_id]
    assert ("encrypting", len(content), len(content)) in progress
    assert progress[-1][0] == "uploading" and progress[-1][1] == progress[-1][2] > len(content)
    stored = world.platform.data_dir / "documents" / f"{doc.document_id}.pgp"
    assert sha256(stored.read_bytes()) == doc.ciphertext_sha256  # the receipt names these bytes

    data, name, signed, manifest = patient_reads(world, doc.document_id)
    assert data == content and signed and name == "1001_12081964_Arztbrief März.pdf"
    assert manifest["request_id"] == request_id and manifest["sha256"] == sha256(content)
    assert manifest["file_name"] == "1001_12081964_Arztbrief März.pdf" and manifest["size"] == len(content)
    # the original moved to processed/, the spool is empty again
    assert (export(client) / "processed" / "1001_12081964_Arztbrief März.pdf").read_bytes() == content
    assert not (client.home.spool / doc.document_id).exists()
    # nothing the server stored shows the file name or the patient
    for path in world.platform.data_dir.rglob("*"):
        if path.is_file() and path.suffix != ".asc":
            raw = path.read_bytes()
            for secret in ("Arztbrief", "1001_", "Mustermann"):
                assert secret.encode() not in raw, path
                assert secret.encode("utf-16-le") not in raw, path


def test_subfolder_match(world: World, client: Context, agent) -> None:
    patient = pin_patient(client, world, "1002")
    first = accepted_request(client, patient.fingerprint, "1002")
    second = accepted_request(client, patient.fingerprint, "1002")  # two open: only the folder decides
    content = b"%PDF-1.7 Befund " * 1000
    write_file(export(client) / second / "befund.pdf", content)

    (doc,) = wait_state(client, DocumentState.DELIVERED)
    assert doc.request_id == second != first and doc.match_method == "subfolder"
    data, name, signed, manifest = patient_reads(world, doc.document_id)
    assert data == content and signed and name == "befund.pdf" and manifest["request_id"] == second


def test_gdt_sidecar_match(world: World, client: Context, agent) -> None:
    patient = pin_patient(client, world, "1001")
    request_id = accepted_request(client, patient.fingerprint, "1001")
    folder = export(client)
    write_file(folder / "labor.pdf.gdt", gdt([("3000", "1001"), ("3101", "Mustermann"),
                                              ("3102", "Erika"), ("3103", "12081964"),
                                              ("6304", "Laborwerte")]))
    write_file(folder / "labor.pdf", b"Laborwerte " * 500)

    (doc,) = wait_state(client, DocumentState.DELIVERED)
    assert doc.request_id == request_id and doc.match_method == "gdt"
    _, _, signed, manifest = patient_reads(world, doc.document_id)
    assert signed and manifest["document_type"] == "Laborwerte"
    assert (folder / "processed" / "labor.pdf.gdt").exists()  # the sidecar travels with it


def test_gdt_sidecar_disagreeing_with_master_data_goes_to_staff(
        world: World, client: Context, agent) -> None:
    patient = pin_patient(client, world, "1001")
    accepted_request(client, patient.fingerprint, "1001")
    folder = export(client)
    write_file(folder / "labor.pdf.gdt", gdt([("3000", "1001"), ("3101", "Mustermann"),
                                              ("3102", "Max"), ("3103", "31011960")]))
    write_file(folder / "labor.pdf", b"x" * 100)
    (doc,) = wait_state(client, DocumentState.UNASSIGNED)
    assert doc.request_id is None and "GDT" in (doc.error or "")


def test_no_match_is_unassigned_then_staff_assign(world: World, client: Context, agent) -> None:
    running, _ = agent
    patient = pin_patient(client, world, "1003")
    request_id = accepted_request(client, patient.fingerprint, "1003")
    write_file(export(client) / "scan_0815.pdf", b"scan" * 100)
    (doc,) = wait_state(client, DocumentState.UNASSIGNED)
    assert not (world.platform.data_dir / "documents" / f"{doc.document_id}.pgp").exists()
    running.assign(doc.document_id, request_id, "05.05.1975")  # staff confirm the birth date
    (done,) = wait_state(client, DocumentState.DELIVERED)
    assert done.document_id == doc.document_id and done.match_method == "staff"
    data, _, signed, _ = patient_reads(world, doc.document_id)
    assert data == b"scan" * 100 and signed


def test_two_candidates_never_guessed(world: World, client: Context, agent) -> None:
    # Two valid requests of one patient, and a name pattern / sidecar naming two patients.
    first = pin_patient(client, world, "1001")
    second = pin_patient(client, world, "1002")
    accepted_request(client, first.fingerprint, "1001")
    accepted_request(client, first.fingerprint, "1001")
    accepted_request(client, second.fingerprint, "1002")
    folder = export(client)
    write_file(folder / "1001_12081964_brief.pdf", b"a" * 100)
    write_file(folder / "1002_31011960_brief.pdf.gdt", gdt([("3000", "1001"), ("3101", "Mustermann"),
                                                   ("3102", "Erika"), ("3103", "12081964")]))
    write_file(folder / "1002_31011960_brief.pdf", b"b" * 100)
    docs = wait_state(client, DocumentState.UNASSIGNED, count=2)
    assert all(d.request_id is None for d in docs)
    reasons = " ".join(d.error or "" for d in docs)
    assert "2 valid requests" in reasons and "different patients" in reasons
    assert not list((world.platform.data_dir / "documents").glob(f"{docs[0].document_id}*"))
    assert documents(client, DocumentState.DELIVERED) == []


def test_unassigned_file_moves_on_when_staff_accept_the_request(
        world: World, client: Context, agent) -> None:
    patient = pin_patient(client, world, "1002")
    request_id = accepted_request(client, patient.fingerprint, "1002", status=RequestStatus.OPEN)
    write_file(export(client) / "1002_31011960_befund.pdf", b"exported before the request was accepted")
    (doc,) = wait_state(client, DocumentState.UNASSIGNED)
    client.store.decide(request_id, RequestStatus.ACCEPTED, None, False)
    (done,) = wait_state(client, DocumentState.DELIVERED)
    assert done.document_id == doc.document_id and done.request_id == request_id
    assert done.match_method == "pattern"


ERIKA_GDT = [("3000", "1001"), ("3101", "Mustermann"), ("3102", "Erika"), ("3103", "12081964")]


def test_a_gdt_record_naming_its_document_by_6305_matches(world: World, client: Context, agent) -> None:
    """The common PMS pattern: a GDT file of its own name whose file reference (6305)
    names the document, with the PMS's own path."""
    patient = pin_patient(client, world, "1001")
    request_id = accepted_request(client, patient.fingerprint, "1001")
    folder = export(client)
    write_file(folder / "PRAXPCLI.gdt", build_record("6310", [*ERIKA_GDT, ("6304", "Befund"),
                                                             ("6305", r"C:\PVS\Export\roentgen.pdf")]))
    write_file(folder / "roentgen.pdf", b"Roentgen " * 300)
    (doc,) = wait_state(client, DocumentState.DELIVERED)
    assert doc.request_id == request_id and doc.match_method == "gdt"
    _, _, _, manifest = patient_reads(world, doc.document_id)
    assert manifest["document_type"] == "Befund"
    assert not (folder / "PRAXPCLI.gdt").exists() and (folder / "processed" / "roentgen.pdf.gdt").exists()


def test_a_gdt_record_written_after_its_document_is_waited_for(world: World, client: Context) -> None:
    patient = pin_patient(client, world, "1001")
    request_id = accepted_request(client, patient.fingerprint, "1001")
    client.update_config(sidecar_grace_seconds=120.0)
    events: list[Event] = []
    running = Agent(client, on_event=events.append, sources=[])
    running.start()
    try:
        folder = export(client)
        write_file(folder / "scan_0816.pdf", b"scan" * 200)
        assert running.watcher is not None
        # the document is complete and waits (no name match, no record yet)
        wait_for(lambda: (s := running.watcher._seen.get(folder / "scan_0816.pdf"))  # noqa: SLF001
                 and s.ready_since is not None, what="the document waiting")
        assert documents(client) == []
        write_file(folder / "scan_0816.pdf.gdt", build_record("6310", ERIKA_GDT))
        (doc,) = wait_state(client, DocumentState.DELIVERED)  # the record's events, not the 120 s
    finally:
        running.stop()
    assert doc.request_id == request_id and doc.match_method == "gdt"


def test_a_delivered_document_is_reported_to_the_pms_by_a_gdt_answer(
        world: World, client: Context, work_dir: Path) -> None:
    patient = pin_patient(client, world, "1001")
    request_id = accepted_request(client, patient.fingerprint, "1001")
    answers = work_dir / "pvs-import"
    answers.mkdir()
    client.update_config(gdt_answer_dir=str(answers))
    running = Agent(client, sources=[])
    running.start()
    try:
        write_file(export(client) / "labor.pdf.gdt", build_record("6310", ERIKA_GDT))
        write_file(export(client) / "labor.pdf", b"Labor " * 100)
        (doc,) = wait_state(client, DocumentState.DELIVERED)
    finally:
        running.stop()
    assert doc.request_id == request_id
    (answer,) = answers.iterdir()  # one complete file, no temporary left
    [record] = parse_gdt(answer.read_bytes(), answer)
    fields = {f: c for _, f, c in record.fields}
    assert fields["8000"] == "6310" and fields["3000"] == "1001" and fields["3103"] == "12081964"
    assert fields["3101"] == "Mustermann" and fields["3102"] == "Erika" and fields["6302"] == doc.document_id
    assert fields["6305"] == str(export(client) / "processed" / "labor.pdf")
    assert "labor.pdf" in fields["6220"]
