"""Schema migrations: a database of an earlier version, with data, is brought up to date
step by step, backed up first, and audited; a newer database is refused."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from practice_client.core.errors import StateError
from practice_client.core.migrations import MIGRATIONS, SCHEMA_VERSION, Migration, current_version, migrate


def v1_database(path: Path) -> sqlite3.Connection:
    """A database as the first releases left it: their schema, 'meta' with version 1, rows."""
    db = sqlite3.connect(path, isolation_level=None)
    MIGRATIONS[0].apply(db)
    db.execute("INSERT INTO meta(key, value) VALUES ('schema_version', '1')")
    db.execute("INSERT INTO patients VALUES ('1001', x'00', x'01', NULL, '2026-01-01T00:00:00Z')")
    return db


def add_note(db: sqlite3.Connection) -> None:
    db.execute("ALTER TABLE patients ADD COLUMN note TEXT NOT NULL DEFAULT 'none'")


def broken(db: sqlite3.Connection) -> None:
    db.execute("ALTER TABLE patients ADD COLUMN half TEXT")
    raise RuntimeError("power cut")


def test_a_new_database_gets_every_step_and_no_backup(tmp_path: Path) -> None:
    db = sqlite3.connect(tmp_path / "new.db", isolation_level=None)
    assert migrate(db, tmp_path / "new.db") == (0, SCHEMA_VERSION)
    assert current_version(db) == SCHEMA_VERSION
    assert not list(tmp_path.glob("*.bak"))


def test_an_old_database_keeps_its_rows_and_is_backed_up_first(tmp_path: Path) -> None:
    path = tmp_path / "client.db"
    db = v1_database(path)
    steps = (*MIGRATIONS, Migration(MIGRATIONS[-1].version + 1, "a note per patient", add_note))
    assert migrate(db, path, steps) == (1, steps[-1].version)
    assert db.execute("SELECT patient_number, note FROM patients").fetchall() == [("1001", "none")]
    backup = sqlite3.connect(tmp_path / "client.db.v1.bak")
    assert backup.execute("SELECT patient_number FROM patients").fetchall() == [("1001",)]
    assert "note" not in {row[1] for row in backup.execute("PRAGMA table_info(patients)")}
    assert migrate(db, path, steps) == (steps[-1].version,) * 2  # nothing left to do


def test_a_failing_step_leaves_the_last_complete_version(tmp_path: Path) -> None:
    path = tmp_path / "client.db"
    db = v1_database(path)
    steps = (*MIGRATIONS, Migration(MIGRATIONS[-1].version + 1, "breaks", broken))
    with pytest.raises(RuntimeError):
        migrate(db, path, steps)
    assert current_version(db) == MIGRATIONS[-1].version
    assert "half" not in {row[1] for row in db.execute("PRAGMA table_info(patients)")}


def test_a_database_from_a_newer_client_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "client.db"
    db = v1_database(path)
    db.execute("UPDATE meta SET value=? WHERE key='schema_version'", (str(SCHEMA_VERSION + 1),))
    with pytest.raises(StateError, match="newer Practice Client"):
        migrate(db, path)


def test_version_2_records_the_accepted_key_of_requests_accepted_before(tmp_path: Path) -> None:
    path = tmp_path / "client.db"
    db = v1_database(path)
    db.execute("INSERT INTO messages VALUES ('m1', '2026-01-01T00:00:00Z', 'imap', x'00', 1)")
    db.execute("INSERT INTO messages VALUES ('m2', '2026-01-01T00:00:00Z', 'imap', x'00', 1)")
    for sha, rid, status in (("m1", "r-accepted", "accepted"), ("m2", "r-open", "open")):
        db.execute(
            "INSERT INTO requests(message_sha256, request_id, received_at, source, verdict, checks, status, "
            "patient_fingerprint, patient_number, summary) VALUES (?, ?, '', 'imap', 'verified', x'00', ?, ?, "
            "'1001', x'00')", (sha, rid, status, "F" * 40))
    assert migrate(db, path)[1] >= 2
    rows = dict(db.execute("SELECT request_id, accepted_fingerprint FROM requests").fetchall())
    assert rows == {"r-accepted": "F" * 40, "r-open": None}  # an open request is recorded when accepted
