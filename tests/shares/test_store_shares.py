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
from practice_client.core.store import Store
from tests.test_migrations import CIPHER, v1_database


def test_the_shares_step_takes_a_v1_database_with_data(tmp_path: Path) -> None:
    db = v1_database(tmp_path / "old.db")
    assert migrate(db, tmp_path / "old.db", cipher=CIPHER)[0] == 1
    assert db.execute("SELECT count(*) FROM shares").fetchone() == (0,)
    assert db.execute("SELECT patient_number FROM patients").fetchall() == [("1001",)]
    columns = {r[1] for r in db.execute("PRAGMA table_info(shares)")}
    assert {"share_id", "state", "reason", "manifest", "handover", "receipt", "receipt_sent"} <= columns


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
