"""Faults and attacks on delivery: server errors, dropped connections, files still
being written, empty files, links, FIFOs, hostile names, a full spool, and a server
that substitutes a patient's key. Real gpg, HTTPS, watchdog."""

from __future__ import annotations

import os
import subprocess
import threading
import unicodedata
from pathlib import Path

import pytest

from practice_client.cli import main
from practice_client.context import Context
from practice_client.core.errors import NetworkError, StateError
from practice_client.core.models import DocumentState
from practice_client.delivery.events import Event
from practice_client.delivery.key_check import alerts
from practice_client.platform.http import RetryPolicy
from practice_client.service.agent import Agent
from tests.conftest import require
from tests.support.delivery import assert_refused, export, patient_reads, ready_patient
from tests.support.platform import fast_client
from tests.support.waiting import wait_for
from tests.support.worlds import World, accepted_request, documents, pin_patient, sha256, wait_state, write_file

pytestmark = pytest.mark.slow


def test_server_errors_then_recovery(world: World, client: Context, agent: Agent) -> None:
    ready_patient(client, world)
    world.platform.faults.fail_next("upload.create", count=2, status=500)
    world.platform.faults.fail_next("upload.patch", count=2, status=503)
    write_file(export(client) / "1001_12081964_befund.pdf", b"B" * 50_000)
    (doc,) = wait_state(client, DocumentState.DELIVERED)
    assert world.platform.stats.calls("upload.create") >= 3
    assert patient_reads(world, doc.document_id)[0] == b"B" * 50_000


def test_a_permanent_refusal_fails_the_document_instead_of_retrying_forever(
        world: World, client: Context, agent: Agent) -> None:
    ready_patient(client, world)
    world.platform.faults.fail_next("upload.create", count=1, status=413)
    write_file(export(client) / "1001_12081964_befund.pdf", b"R" * 40_000)
    (doc,) = wait_state(client, DocumentState.FAILED)
    assert "refused" in (doc.error or "") and "413" in (doc.error or "")
    assert world.platform.stats.calls("upload.create") == 1  # not asked again and again
    assert main(["outbox", "--retry", doc.document_id]) == 0  # staff: try again
    (done,) = wait_state(client, DocumentState.DELIVERED)
    assert patient_reads(world, done.document_id)[0] == b"R" * 40_000


def test_connection_dropped_mid_upload_resumes(world: World, client: Context, agent: Agent) -> None:
    ready_patient(client, world)
    content = os.urandom(3 * 1024 * 1024)
    world.platform.faults.drop_next_patch(after_bytes=1024 * 1024)
    world.platform.faults.drop_next_patch(after_bytes=1024 * 1024)  # manifest or document
    write_file(export(client) / "1001_12081964_mrt.dcm", content)
    (doc,) = wait_state(client, DocumentState.DELIVERED)
    stored = world.platform.data_dir / "documents"
    total = sum(p.stat().st_size for p in stored.glob(f"{doc.document_id}*.pgp"))
    # every byte went over the wire once: the upload resumed, it did not start again
    assert world.platform.stats.patch_bytes == total
    assert patient_reads(world, doc.document_id)[0] == content


def test_retry_after_a_failed_upload_never_splices_two_encryptions(
        world: World, client: Context) -> None:
    """The platform holds part of one encryption when the document fails (its spooled
    ciphertext was damaged): the failure abandons its uploads, they are terminated, and
    staff retry encrypts anew - with a fresh session key - into new uploads, never
    continuing the earlier bytes."""
    ready_patient(client, world)
    content = os.urandom(3 * 1024 * 1024)  # below the streaming size: the plain path
    world.platform.faults.clear()
    world.platform.faults.fail_next("upload.patch", count=1000)
    running = Agent(client, sources=[])
    running.start()
    try:
        write_file(export(client) / "1001_12081964_ct.dcm", content)
        wait_state(client, DocumentState.UPLOADING)
    finally:
        running.stop()
    world.platform.faults.clear()
    (doc,) = documents(client, DocumentState.UPLOADING)
    spool = client.home.spool / doc.document_id
    urls = client.store.uploads_of(doc.document_id)
    # what the stopped run had got out: the manifest, and the document until the line dropped
    with fast_client(world.platform, retry=RetryPolicy(attempts=1, base_delay=0.01, max_delay=0.01)) as sender:
        sender.tus.send(urls["manifest"], spool / "manifest.pgp")
        world.platform.faults.drop_next_patch(after_bytes=1024 * 1024)
        with pytest.raises(NetworkError):
            sender.tus.send(urls["document"], spool / "document.pgp")
        assert sender.tus.state(urls["document"]).offset >= 1024 * 1024
    spooled = spool / "document.pgp"
    spooled.write_bytes(spooled.read_bytes()[:-1] + b"\0")  # damaged while the client was down
    running = Agent(client, sources=[])
    running.start()
    try:
        (failed,) = wait_state(client, DocumentState.FAILED)
        assert "changed" in (failed.error or "")
        wait_for(lambda: client.store.pending_terminations() == [], what="the abandoned uploads terminated")
        assert main(["outbox", "--retry", doc.document_id]) == 0
        (done,) = wait_state(client, DocumentState.DELIVERED)
    finally:
        running.stop()
    uploads = world.platform.data_dir / "uploads"
    for url in urls.values():  # both of the first encryption's uploads are gone from the platform
        assert not (uploads / f"{url.rsplit('/', 1)[1]}.json").exists()
    finishes = world.platform.data_dir / "finishes"
    assert len(list(finishes.glob(f"{doc.document_id}.manifest.*"))) == 2  # the terminated one, then the new
    assert len(list(finishes.glob(f"{doc.document_id}.document.*"))) == 1
    stored = world.platform.data_dir / "documents"
    assert sha256((stored / f"{doc.document_id}.pgp").read_bytes()) == done.ciphertext_sha256
    assert sha256((stored / f"{doc.document_id}.manifest.pgp").read_bytes()) == done.manifest_sha256
    plaintext, _, signed, manifest = patient_reads(world, doc.document_id)
    assert plaintext == content and signed and manifest["sha256"] == sha256(content)


def test_file_still_being_written_waits_for_close(world: World, client: Context, agent: Agent) -> None:
    ready_patient(client, world)
    path = export(client) / "1001_12081964_gross.pdf"
    with open(path, "wb") as handle:
        handle.write(b"part one " * 1000)
        handle.flush()
        # several stability periods pass while the writer holds the file open
        assert not threading.Event().wait(client.config.stable_seconds * 5)
        assert documents(client) == []
        handle.write(b"part two " * 1000)
    (doc,) = wait_state(client, DocumentState.DELIVERED)
    assert patient_reads(world, doc.document_id)[0] == b"part one " * 1000 + b"part two " * 1000


def test_writer_still_holding_the_file_during_encryption_fails_it(
        world: World, client: Context) -> None:
    """A PMS that renames a file into place and then goes on writing through the handle it
    kept: gpg reads the spooled file by name, the digest comes from the client's own
    handle - a change in between must fail the document, never send a mismatch."""
    ready_patient(client, world)
    first = os.urandom(32 * 1024 * 1024)
    staging = client.home.root / "staging.bin"
    staging.write_bytes(first)
    appended = threading.Event()
    with open(staging, "ab") as writer:

        def append_mid_encryption(event: Event) -> None:
            if (event.kind == "progress" and event.phase == "encrypting"
                    and 0 < event.bytes_done < event.bytes_total and not appended.is_set()):
                writer.write(b"late bytes")
                writer.flush()
                appended.set()

        running = Agent(client, on_event=append_mid_encryption, sources=[])
        running.start()
        try:
            os.rename(staging, export(client) / "1001_12081964_ct.dcm")
            (doc,) = wait_state(client, DocumentState.FAILED)
        finally:
            running.stop()
    assert appended.is_set()
    assert "changed during encryption" in (doc.error or "")
    assert (export(client) / "failed" / "1001_12081964_ct.dcm").read_bytes() == first + b"late bytes"
    assert not list((world.platform.data_dir / "documents").glob(f"{doc.document_id}*"))


def test_temporary_names_wait_until_renamed(world: World, client: Context, agent: Agent) -> None:
    ready_patient(client, world)
    folder = export(client)
    write_file(folder / "1001_12081964_brief.pdf.part", b"x" * 100)
    write_file(folder / "~$1001_12081964_brief.docx", b"lock")
    write_file(folder / ".1001_12081964_hidden.pdf", b"hidden")
    os.rename(folder / "1001_12081964_brief.pdf.part", folder / "1001_12081964_brief.pdf")
    (doc,) = wait_state(client, DocumentState.DELIVERED)
    assert doc.original_name == "1001_12081964_brief.pdf"
    assert (folder / "~$1001_12081964_brief.docx").exists() and (folder / ".1001_12081964_hidden.pdf").exists()
    assert len(documents(client)) == 1


def test_empty_file_fails_with_reason(world: World, client: Context, agent: Agent) -> None:
    ready_patient(client, world)
    write_file(export(client) / "1001_12081964_leer.pdf", b"")
    assert_refused(client, "1001_12081964_leer.pdf", "empty file")


def test_symlink_is_refused_and_never_followed(world: World, client: Context, agent: Agent,
                                               work_dir: Path) -> None:
    ready_patient(client, world)
    secret = work_dir / "secret.txt"
    secret.write_bytes(b"TOP SECRET practice data")
    os.symlink(secret, export(client) / "1001_12081964_link.pdf")
    assert_refused(client, "1001_12081964_link.pdf", "symbolic link")
    assert os.path.islink(export(client) / "failed" / "1001_12081964_link.pdf")  # moved as a link
    assert secret.read_bytes() == b"TOP SECRET practice data"
    assert not any(b"TOP SECRET" in p.read_bytes()
                   for p in world.platform.data_dir.rglob("*") if p.is_file())


def test_directory_link_is_not_descended(world: World, client: Context, agent: Agent,
                                         work_dir: Path) -> None:
    ready_patient(client, world)
    outside = work_dir / "outside"
    write_file(outside / "1001_12081964_elsewhere.pdf", b"not in the export folder")
    os.symlink(outside, export(client) / "linked")
    assert_refused(client, "linked", "symbolic link")
    assert (outside / "1001_12081964_elsewhere.pdf").read_bytes() == b"not in the export folder"


def test_hard_link_is_refused(world: World, client: Context, agent: Agent, work_dir: Path) -> None:
    ready_patient(client, world)
    other = work_dir / "other.pdf"
    other.write_bytes(b"shared inode")
    os.link(other, export(client) / "1001_12081964_hard.pdf")
    assert_refused(client, "1001_12081964_hard.pdf", "hard link")
    assert other.read_bytes() == b"shared inode"


def test_fifo_is_refused_without_blocking(world: World, client: Context, agent: Agent) -> None:
    ready_patient(client, world)
    os.mkfifo(export(client) / "1001_12081964_pipe.pdf")
    assert_refused(client, "1001_12081964_pipe.pdf", "FIFO")
    write_file(export(client) / "1001_12081964_after.pdf", b"still working")  # the watcher did not hang
    wait_state(client, DocumentState.DELIVERED)


def test_hostile_names_are_cut_to_safe_base_names(world: World, client: Context, agent: Agent) -> None:
    ready_patient(client, world)
    folder = export(client)
    rtl = "1001_12081964_rechnung\u202efdp.exe"  # reads as "rechnungexe.pdf"
    nfd = unicodedata.normalize("NFD", "1001_12081964_Müller Befund.pdf")
    control = "1001_12081964_a\nb\tc.pdf"
    raw = os.fsencode(str(folder)) + b"/1001_12081964_bad\xff\xfe.pdf"  # not UTF-8
    write_file(folder / rtl, b"rtl")
    write_file(folder / nfd, b"nfd")
    write_file(folder / control, b"ctl")
    with open(raw, "wb") as handle:
        handle.write(b"raw")
    docs = wait_state(client, DocumentState.DELIVERED, count=4)
    names = {d.original_name for d in docs}
    assert names == {"1001_12081964_rechnungfdp.exe", "1001_12081964_Müller Befund.pdf",
                     "1001_12081964_abc.pdf", "1001_12081964_bad__.pdf"}
    for doc in docs:
        _, literal, signed, manifest = patient_reads(world, doc.document_id)
        assert signed and literal == doc.original_name == manifest["file_name"]
    processed = sorted(p.name for p in (folder / "processed").iterdir())
    assert processed == sorted(names)
    assert all(p.parent == folder / "processed" for p in (folder / "processed").rglob("*"))


def test_disk_full_on_spool_fails_clearly_original_untouched(
        world: World, client: Context, work_dir: Path) -> None:
    ready_patient(client, world)
    spool = client.home.spool
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(spool)],
                             capture_output=True, check=False).returncode == 0
    require(mounted, "permission to mount a 1 MiB tmpfs as the spool (root)")
    running = Agent(client, sources=[])
    try:
        running.start()
        big = os.urandom(2 * 1024 * 1024)  # does not fit into the spool at all
        write_file(export(client) / "1001_12081964_big.pdf", big)
        (doc,) = wait_state(client, DocumentState.FAILED)
        assert "spool disk full" in (doc.error or "")
        wait_for((export(client) / "failed" / "1001_12081964_big.pdf.reason.txt").exists, what="reason file")
        assert (export(client) / "failed" / "1001_12081964_big.pdf").read_bytes() == big
        half = os.urandom(700 * 1024)  # fits, but its ciphertext does not
        write_file(export(client) / "1001_12081964_half.pdf", half)
        wait_state(client, DocumentState.FAILED, count=2)
        wait_for((export(client) / "failed" / "1001_12081964_half.pdf.reason.txt").exists, what="reason file")
        assert (export(client) / "failed" / "1001_12081964_half.pdf").read_bytes() == half
        assert "spool disk full" in (export(client) / "failed" / "1001_12081964_half.pdf.reason.txt").read_text()
        assert documents(client, DocumentState.DELIVERED) == []
    finally:
        running.stop()
        subprocess.run(["umount", str(spool)], check=False)
    # space again: staff retry (CLI) and the agent delivers both, from failed/ back to processed/
    running = Agent(client, sources=[])
    running.start()
    try:
        for doc in documents(client, DocumentState.FAILED):
            assert main(["outbox", "--retry", doc.document_id]) == 0
        wait_state(client, DocumentState.DELIVERED, count=2)
    finally:
        running.stop()
    assert (export(client) / "processed" / "1001_12081964_big.pdf").read_bytes() == big
    assert not (export(client) / "failed" / "1001_12081964_big.pdf.reason.txt").exists()


def test_retry_of_a_refused_empty_file_is_refused_again(world: World, client: Context,
                                                       agent: Agent) -> None:
    ready_patient(client, world)
    write_file(export(client) / "1001_12081964_leer.pdf", b"")
    assert_refused(client, "1001_12081964_leer.pdf", "empty file")
    (doc,) = documents(client, DocumentState.FAILED)
    assert main(["outbox", "--retry", doc.document_id]) == 1
    assert (export(client) / "failed" / "1001_12081964_leer.pdf").exists()
    assert documents(client, DocumentState.FAILED)[0].document_id == doc.document_id


def test_a_second_agent_for_the_same_home_is_refused(client: Context, agent: Agent) -> None:
    with pytest.raises(StateError, match="already running"):
        Agent(client, sources=[]).start()


def test_server_key_substitution_alerts_but_uses_the_pin(
        world: World, client: Context, agent: Agent) -> None:
    patient = pin_patient(client, world, "1003")
    accepted_request(client, patient.fingerprint, "1003")
    served = world.platform.data_dir / "patients" / f"{patient.fingerprint}.asc"
    genuine = served.read_text()
    served.write_text(world.patients["1002"].public_key())  # the server hands out another key
    try:
        write_file(export(client) / "1003_05051975_befund.pdf", b"for 1003 only")
        (doc,) = wait_state(client, DocumentState.DELIVERED)
    finally:
        served.write_text(genuine)
    assert doc.extra.get("alert") == "server_key_mismatch"
    assert alerts(client) == [patient.fingerprint]
    entries = [e for e in client.store.audit.entries() if e["event"] == "alert.server_key_mismatch"]
    assert len(entries) == 1 and entries[0]["details"]["fingerprint"] == patient.fingerprint
    # encrypted to the pinned key: the genuine patient reads it, the substituted key cannot
    data, _, signed = patient.decrypt(world.platform.data_dir / "documents" / f"{doc.document_id}.pgp",
                                      None, world.practice_key)
    assert data == b"for 1003 only" and signed
    with pytest.raises(Exception):  # noqa: B017 - any decryption failure
        world.patients["1002"].decrypt(
            world.platform.data_dir / "documents" / f"{doc.document_id}.pgp", None, world.practice_key)
