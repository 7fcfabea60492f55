"""The shares table: migrated onto a v1 database with data, rows before any download,
the cursor moved in the same transaction, transitions checked inside the write
transaction with one audit entry each, personal fields sealed."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from practice_client.core.audit import AuditLog, ChainKey
from practice_client.core.errors import StateError
from practice_client.core.migrations import migrate
from practice_client.core.models import Patient
from practice_client.core.store import Store
from tests.support.database import CIPHER, assert_read_through_indexes, v1_database


def test_the_shares_step_takes_a_v1_database_with_data(tmp_path: Path) -> None:
    db = v1_database(tmp_path / "old.db")
    assert migrate(db, tmp_path / "old.db", cipher=CIPHER)[0] == 1
    assert db.execute("SELECT count(*) FROM shares").fetchone() == (0,)
    assert db.execute("SELECT patient_number FROM patients").fetchall() == [("1001",)]
    columns = {r[1] for r in db.execute("PRAGMA table_info(shares)")}
    assert {"share_id", "state", "reason", "manifest", "handover", "receipt", "receipt_sent"} <= columns
    # the Eingang page and the list command read through indexes, whatever the number of shares
    assert_read_through_indexes(
        db, "SELECT * FROM shares ORDER BY list_rank, received_at DESC, share_id LIMIT 5",
        "SELECT * FROM shares ORDER BY received_at DESC, share_id DESC LIMIT 5",
        "SELECT share_id FROM shares WHERE change_seq > 3", "SELECT state, COUNT(*) FROM shares GROUP BY state")


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(tmp_path / "state.db", AuditLog(tmp_path / "audit.jsonl", ChainKey(bytes(32)), new_key=True), CIPHER)


def test_rows_and_cursor_in_one_transaction_new_ones_only(store: Store) -> None:
    assert store.add_shares([("share-0001", 100, 10), ("share-0002", 200, 20)], "c1") == ["share-0001", "share-0002"]
    assert store.get_meta("shares_cursor") == "c1"
    assert store.add_shares([("share-0002", 200, 20), ("share-0003", 1, 1)], "c2") == ["share-0003"]
    assert [s.state for s in store.list_shares()] == ["received"] * 3
    assert store.add_shares([], "c2") == []  # nothing new: no audit entry
    events = [e["event"] for e in store.audit.entries()]
    assert events.count("share.received") == 2


def test_transitions_are_checked_and_audited_and_names_sealed(store: Store, tmp_path: Path) -> None:
    store.add_shares([("share-0001", 100, 10)], None)
    manifest = {"file_name": "Befund Erika Mustermann.pdf", "document_type": "Befund"}
    share = store.share_transition("share-0001", "downloaded", {"received"}, manifest=manifest)
    assert share.state == "downloaded" and share.manifest == manifest
    with pytest.raises(StateError, match="cannot go from downloaded to clean"):
        store.share_transition("share-0001", "clean", {"verified"})
    store.share_transition("share-0001", "quarantined", {"downloaded"}, reason="unsigned",
                           detail="no signature", audit={"claimed_fingerprint": "A" * 40})
    entry = list(store.audit.entries())[-1]
    assert entry["event"] == "share.quarantined"
    assert entry["details"] == {"share_id": "share-0001", "from": "downloaded", "reason": "unsigned",
                                "claimed_fingerprint": "A" * 40}
    store.close()
    raw = (tmp_path / "state.db").read_bytes() + b"".join(p.read_bytes() for p in tmp_path.glob("state.db-*"))
    assert b"Mustermann" not in raw and b"Mustermann" not in (tmp_path / "audit.jsonl").read_bytes()
    with sqlite3.connect(tmp_path / "state.db") as db:
        assert db.execute("SELECT reason FROM shares").fetchone() == ("unsigned",)


def test_receipts_queue_until_sent(store: Store) -> None:
    store.add_shares([("share-0001", 1, 1)], None)
    store.share_record("share-0001", "share.test", receipt="accepted")
    assert [s.share_id for s in store.receipts_due()] == ["share-0001"]
    store.receipt_sent("share-0001", "accepted")
    assert store.receipts_due() == []
    assert store.verify_audit().ok


def test_shares_page_in_the_order_staff_need_and_refresh_by_change_stamps(store: Store) -> None:
    """The Eingang page's reads: pages in order (quarantined, waiting, on their way, handed
    over), counts by state from the index, and "changed since" by the rows' stamps - a
    share's own changes and changes of its patient's PMS record, nothing else."""
    store.upsert_patients([Patient("1001", "Erika Mustermann", "1964-08-12", None)], "praxis.gdt")
    ids = [f"share-{n:04d}" for n in range(1, 6)]
    store.add_shares([(sid, 100, 10) for sid in ids], "c1")
    for sid in ids[1:]:
        store.share_transition(sid, "downloaded", {"received"})
    store.share_transition(ids[1], "quarantined", {"downloaded"}, reason="unsigned")
    for sid in ids[2:]:
        store.share_transition(sid, "verified", {"downloaded"}, patient_number="1001")
    store.share_transition(ids[2], "waiting", {"verified"}, reason="no_scanner")
    store.share_transition(ids[4], "clean", {"verified"})
    first = store.page_shares(limit=2)
    rest = store.page_shares(after=first[-1][0], limit=10)
    states = [s.state for _, s in first + rest]
    assert states[:2] == ["quarantined", "waiting"] and sorted(states[2:]) == ["clean", "received", "verified"]
    assert len({s.share_id for _, s in first + rest}) == 5
    assert store.share_counts() == {"received": 1, "quarantined": 1, "waiting": 1, "verified": 1, "clean": 1}
    assert {s.share_id for _, s in store.page_shares(search="1001")} == set(ids[2:])
    assert [s.share_id for _, s in store.page_shares(search=ids[1])] == [ids[1]]

    cursor = store.change_cursor()
    assert store.changed_keys("shares", cursor, 100) == ([], False)
    store.share_transition(ids[4], "handing_over", {"clean"})
    assert store.changed_keys("shares", cursor, 100) == ([ids[4]], False)
    cursor = store.change_cursor()
    store.upsert_patients([Patient("1001", "Erika Musterfrau", "1964-08-12", None)], "praxis.gdt")  # renamed in the PMS
    changed, more = store.changed_keys("shares", cursor, 100)
    assert sorted(changed) == ids[2:] and not more  # the rows that show her, and only those
    store.share_record(ids[0], "share.test", receipt="accepted")
    cursor = store.change_cursor()
    store.receipt_sent(ids[0], "accepted")  # a write that sets no stamp itself: the trigger does
    store.share_record(ids[1], "share.test", attempts=2)
    assert sorted(store.changed_keys("shares", cursor, 100)[0]) == ids[:2]
    assert store.changed_keys("shares", cursor, 1)[1]  # more than the limit: the list is read again
    assert store.verify_audit().ok
