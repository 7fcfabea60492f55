"""Retention: delivered originals in processed/, failed originals (failed/ and sealed spool
copies) and raw request messages are kept as many days as the practice sets (the admin can
lock it), then removed - audited, crash-safe. Real files, the real store, the real agent
for the deliveries; time moves by passing ``now``."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from practice_client.context import Context
from practice_client.core.errors import PolicyLocked, StateError
from practice_client.core.migrations import MIGRATIONS
from practice_client.core.models import DocumentState, RequestStatus
from practice_client.core.policy import Policy
from practice_client.core.store import Store
from practice_client.delivery import outbox, retention
from practice_client.delivery.spool import Spool
from practice_client.service.agent import Agent
from tests.support.delivery import gdt
from tests.support.worlds import World, accepted_request, pin_patient, wait_state, write_file

LATER = {"soon": 10, "processed": 31, "failed": 91}


def events(ctx: Context, name: str) -> list[dict]:
    return [e for e in ctx.store.audit.entries() if e["event"] == name]


def finished_work(world: World, client: Context, work_dir: Path) -> dict[str, str]:
    """A delivered document (with sidecar), a refused one in failed/, a failed one sent from
    elsewhere (kept sealed in the spool); their document ids."""
    patient = pin_patient(client, world, "1001")
    request_id = accepted_request(client, patient.fingerprint, "1001")
    export = Path(client.config.export_dir)
    write_file(export / "1001_brief.pdf.gdt", gdt([("3000", "1001"), ("3101", "Mustermann"), ("3102", "Erika"),
                                                   ("3103", "12081964")]))
    write_file(export / "1001_brief.pdf", b"a letter for the patient")
    write_file(export / "1001_leer.pdf", b"")
    agent = Agent(client, sources=[])
    agent.start()
    try:
        (delivered,) = wait_state(client, DocumentState.DELIVERED)
        (refused,) = wait_state(client, DocumentState.FAILED)
    finally:
        agent.stop()
    (sent,) = outbox.add_files(client, [write_file(work_dir / "brief.pdf", b"sent by hand")], request_id)
    outbox.fail(client, sent, "the platform refused it")
    return {"delivered": delivered.document_id, "refused": refused.document_id, "sent": sent.document_id}


def test_originals_are_removed_after_the_days_the_practice_keeps_them(
        world: World, client: Context, work_dir: Path) -> None:
    ids = finished_work(world, client, work_dir)
    export = Path(client.config.export_dir)
    processed = [export / "processed" / "1001_brief.pdf", export / "processed" / "1001_brief.pdf.gdt"]
    failed = [export / "failed" / "1001_leer.pdf", export / "failed" / "1001_leer.pdf.reason.txt"]
    spool = Spool.of(client)
    assert all(p.exists() for p in processed + failed) and spool.kept(ids["sent"])
    now = datetime.now(UTC)

    assert retention.run(client, now + timedelta(days=LATER["soon"])) == retention.Removed(0, 0, 0)
    assert all(p.exists() for p in processed + failed)

    assert retention.run(client, now + timedelta(days=LATER["processed"])).processed == 1
    assert not any(p.exists() for p in processed)
    assert all(p.exists() for p in failed) and spool.kept(ids["sent"])
    (entry,) = events(client, "retention.originals_removed")
    assert entry["details"]["document_ids"] == [ids["delivered"]] and entry["details"]["kept_days"] == 30

    assert retention.run(client, now + timedelta(days=LATER["failed"])).failed == 2
    assert not any(p.exists() for p in failed) and not spool.folder(ids["sent"]).exists()
    assert sorted(events(client, "retention.originals_removed")[-1]["details"]["document_ids"]) == sorted(
        [ids["refused"], ids["sent"]])
    with pytest.raises(StateError, match="original is gone"):
        outbox.retry(client, ids["refused"])
    assert retention.run(client, now + timedelta(days=400)) == retention.Removed(0, 0, 0)  # nothing twice
    assert client.store.verify_audit().ok


def test_zero_keeps_for_ever_and_the_admin_lock_wins(world: World, client: Context, work_dir: Path) -> None:
    finished_work(world, client, work_dir)
    client.update_config(keep_processed_days=0, keep_failed_days=0)
    assert retention.run(client, datetime.now(UTC) + timedelta(days=3650)).processed == 0
    locked = Context(policy=Policy(values={"keep_processed_days": 7}, locked=frozenset({"keep_processed_days"}),
                                   source="test policy"))
    try:
        assert locked.config.keep_processed_days == 7  # the user's 0 does not count
        with pytest.raises(PolicyLocked):
            locked.update_config(keep_processed_days=365)
        assert retention.run(locked, datetime.now(UTC) + timedelta(days=8)).processed == 1
    finally:
        locked.close()


def test_a_crash_between_removing_the_files_and_recording_it_is_finished_by_the_next_run(
        world: World, client: Context, work_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    finished_work(world, client, work_dir)
    export = Path(client.config.export_dir)
    later = datetime.now(UTC) + timedelta(days=LATER["processed"])

    def power_cut(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt("power cut after the files were removed")

    monkeypatch.setattr(Store, "originals_removed", power_cut)
    with pytest.raises(KeyboardInterrupt):
        retention.run(client, later)
    assert not (export / "processed" / "1001_brief.pdf").exists()
    assert events(client, "retention.originals_removed") == []
    monkeypatch.undo()
    assert retention.run(client, later).processed == 1
    assert len(events(client, "retention.originals_removed")) == 1


def raw_of(ctx: Context, request_id: str) -> tuple[int, int]:
    db = sqlite3.connect(ctx.home.database)
    try:
        row = db.execute("SELECT m.processed, length(m.raw) FROM messages m JOIN requests r "
                         "ON r.message_sha256 = m.sha256 WHERE r.request_id=?", (request_id,)).fetchone()
    finally:
        db.close()
    return int(row[0]), int(row[1])


def test_raw_messages_of_finished_requests_are_removed_the_open_ones_kept(
        world: World, client: Context) -> None:
    patient = pin_patient(client, world, "1001")
    declined = accepted_request(client, patient.fingerprint, "1001", status=RequestStatus.DECLINED)
    open_one = accepted_request(client, patient.fingerprint, "1001", status=RequestStatus.OPEN)
    valid = accepted_request(client, patient.fingerprint, "1001", expires_in=200 * 86400.0)
    expired = accepted_request(client, patient.fingerprint, "1001", expires_in=10 * 86400.0)
    size = raw_of(client, declined)[1]
    assert retention.run(client, datetime.now(UTC) + timedelta(days=91)).messages == 2
    assert raw_of(client, declined)[0] == 2 and raw_of(client, expired)[0] == 2
    assert raw_of(client, declined)[1] < size
    assert raw_of(client, open_one)[0] == 1
    assert raw_of(client, valid)[0] == 1
    (entry,) = events(client, "retention.messages_removed")
    assert entry["details"]["count"] == 2
    assert client.store.get_request(declined).status is RequestStatus.DECLINED  # the record stays


def test_documents_finished_before_the_upgrade_count_as_parked_when_they_finished(
        world: World, client: Context, work_dir: Path) -> None:
    ids = finished_work(world, client, work_dir)
    database = client.home.database
    client.close()
    db = sqlite3.connect(database, isolation_level=None)  # the schema before retention existed
    db.execute("DROP INDEX documents_parked")
    db.execute("DROP INDEX messages_kept")
    db.execute("ALTER TABLE documents DROP COLUMN parked_at")
    next(m for m in MIGRATIONS if m.what == "retention of originals and messages").run(db, None)  # the upgrade
    db.close()
    del client.__dict__["store"]
    assert retention.run(client, datetime.now(UTC) + timedelta(days=LATER["processed"])).processed == 1
    assert events(client, "retention.originals_removed")[-1]["details"]["document_ids"] == [ids["delivered"]]
