"""Schema migrations: a database of an earlier version, with data, is brought up to date
step by step, backed up first, and audited; a newer database is refused."""

from __future__ import annotations

import hashlib
import hmac
import sqlite3
from pathlib import Path

import pytest

from practice_client.core.errors import StateError
from practice_client.core.migrations import (
    MIGRATIONS,
    SCHEMA_VERSION,
    Migration,
    _accepted_fingerprint,
    _birth_keys,
    applied_steps,
    birth_key,
    current_version,
    migrate,
)
from tests.support.database import CIPHER, KEY, assert_read_through_indexes, v1_database, v1_sealed


def add_note(db: sqlite3.Connection) -> None:
    db.execute("ALTER TABLE patients ADD COLUMN note TEXT NOT NULL DEFAULT 'none'")


def broken(db: sqlite3.Connection) -> None:
    db.execute("ALTER TABLE patients ADD COLUMN half TEXT")
    raise RuntimeError("power cut")


def test_a_new_database_gets_every_step_and_no_backup(tmp_path: Path) -> None:
    db = sqlite3.connect(tmp_path / "new.db", isolation_level=None)
    assert migrate(db, tmp_path / "new.db", cipher=CIPHER) == (0, SCHEMA_VERSION)
    assert current_version(db) == SCHEMA_VERSION
    assert not list(tmp_path.glob("*.bak"))


def test_an_old_database_keeps_its_rows_and_is_backed_up_first(tmp_path: Path) -> None:
    path = tmp_path / "client.db"
    db = v1_database(path)
    steps = (*MIGRATIONS, Migration(MIGRATIONS[-1].version + 1, "a note per patient", add_note))
    assert migrate(db, path, steps, CIPHER) == (1, steps[-1].version)
    assert db.execute("SELECT patient_number, note FROM patients").fetchall() == [("1001", "none")]
    backup = sqlite3.connect(tmp_path / "client.db.v1.bak")
    assert backup.execute("SELECT patient_number FROM patients").fetchall() == [("1001",)]
    assert "note" not in {row[1] for row in backup.execute("PRAGMA table_info(patients)")}
    assert migrate(db, path, steps, CIPHER) == (steps[-1].version,) * 2  # nothing left to do


def test_a_failing_step_leaves_the_last_complete_version(tmp_path: Path) -> None:
    path = tmp_path / "client.db"
    db = v1_database(path)
    steps = (*MIGRATIONS, Migration(MIGRATIONS[-1].version + 1, "breaks", broken))
    with pytest.raises(RuntimeError):
        migrate(db, path, steps, CIPHER)
    assert current_version(db) == MIGRATIONS[-1].version
    assert "half" not in {row[1] for row in db.execute("PRAGMA table_info(patients)")}


def test_a_database_from_a_newer_client_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "client.db"
    db = v1_database(path)
    db.execute("UPDATE meta SET value=? WHERE key='schema_version'", (str(SCHEMA_VERSION + 1),))
    with pytest.raises(StateError, match="newer Practice Client"):
        migrate(db, path)


def test_step_2_adds_upload_urls_and_terminations_to_a_v1_database_with_documents(tmp_path: Path) -> None:
    path = tmp_path / "client.db"
    db = v1_database(path)
    db.execute("INSERT INTO documents(document_id, state, original_name, source_path, size, sha256, "
               "created_at, updated_at) VALUES ('d-0000001', 'uploading', x'00', x'01', 10, '', 't', 't')")
    assert migrate(db, path, MIGRATIONS[:2]) == (1, 2)
    assert db.execute("SELECT document_id, state FROM documents").fetchall() == [("d-0000001", "uploading")]
    db.execute("INSERT INTO uploads VALUES ('d-0000001', 'document', '/v1/uploads/abc', 't')")
    db.execute("INSERT INTO terminations(url, document_id, part, reason, since) "
               "VALUES ('/v1/uploads/old', 'd-0000001', 'document', 'document failed', 't')")
    assert db.execute("SELECT attempts FROM terminations").fetchall() == [(0,)]
    with pytest.raises(sqlite3.IntegrityError):  # one stored upload per part
        db.execute("INSERT INTO uploads VALUES ('d-0000001', 'document', '/v1/uploads/def', 't')")


def test_the_accepted_key_step_records_the_key_of_requests_accepted_before(tmp_path: Path) -> None:
    path = tmp_path / "client.db"
    db = v1_database(path)
    db.execute("INSERT INTO messages VALUES ('m1', '2026-01-01T00:00:00Z', 'imap', x'00', 1)")
    db.execute("INSERT INTO messages VALUES ('m2', '2026-01-01T00:00:00Z', 'imap', x'00', 1)")
    for sha, rid, status in (("m1", "r-accepted", "accepted"), ("m2", "r-open", "open")):
        db.execute(
            "INSERT INTO requests(message_sha256, request_id, received_at, source, verdict, checks, status, "
            "patient_fingerprint, patient_number, summary) VALUES (?, ?, '', 'imap', 'verified', x'00', ?, ?, "
            "'1001', x'00')", (sha, rid, status, "F" * 40))
    _accepted_fingerprint(db)  # the step itself: the keyed steps before it need real sealed rows
    rows = dict(db.execute("SELECT request_id, accepted_fingerprint FROM requests").fetchall())
    assert rows == {"r-accepted": "F" * 40, "r-open": None}  # an open request is recorded when accepted


# -- version 7: lists that scale, from a first-release database with data ------------------------

FPR = "A" * 40


def migrated_v1_with_data(path: Path) -> sqlite3.Connection:
    """A first-release database with a patient, a pin, a request and two documents, brought up to date."""
    db = v1_database(path)
    db.execute("INSERT INTO pins VALUES (?, '1001', ?, ?, ?, 'video', 't', 't', ?)",
               (FPR, v1_sealed("pins.name", "Erika Mustermann"), v1_sealed("pins.birth_date", "1964-08-12"),
                v1_sealed("pins.phone", "+49301234567"), v1_sealed("pins.certificate", "-----BEGIN-----")))
    db.execute("INSERT INTO messages VALUES ('m1', '2026-01-01T00:00:00Z', 'imap', ?, 1)",
               (v1_sealed("messages.raw", "From: x"),))
    db.execute("INSERT INTO requests(message_sha256, request_id, received_at, source, verdict, checks, status, "
               "patient_fingerprint, patient_number, summary) VALUES ('m1', 'r1', '2026-01-01T00:00:00Z', "
               "'imap', 'needs_review', ?, 'open', ?, '1001', ?)",
               (v1_sealed("requests.checks", "[]"), FPR, v1_sealed("requests.summary", "{}")))
    for doc, state, created in (("d1", "failed", "2026-01-01T00:00:00Z"), ("d2", "delivered", "2026-01-02T00:00:00Z")):
        db.execute("INSERT INTO documents(document_id, state, original_name, source_path, size, sha256, created_at, "
                   "updated_at, request_id) VALUES (?, ?, ?, ?, 1, 'x', ?, 't', 'r1')",
                   (doc, state, v1_sealed("documents.original_name", "brief.pdf"),
                    v1_sealed("documents.source_path", "/export/brief.pdf"), created))
    assert migrate(db, path, cipher=CIPHER) == (1, SCHEMA_VERSION)
    return db


def test_version_7_keeps_the_rows_ranks_them_and_stamps_what_changes(tmp_path: Path) -> None:
    db = migrated_v1_with_data(tmp_path / "client.db")
    assert db.execute("SELECT list_rank, change_seq FROM requests").fetchall() == [(0, 0)]
    assert db.execute("SELECT document_id, list_rank FROM documents ORDER BY list_rank").fetchall() == [
        ("d1", 0), ("d2", 6)]
    # a change in a transaction whose audit entry will be 7: the row, and the rows that show it
    db.execute("INSERT INTO audit_index VALUES (6, 0, 1, 'x')")
    db.execute("UPDATE patients SET updated_at = 'now' WHERE patient_number = '1001'")
    assert db.execute("SELECT change_seq FROM patients").fetchone() == (7,)
    assert db.execute("SELECT change_seq FROM requests").fetchone() == (7,), "the patient's request shows the name"
    assert db.execute("SELECT COUNT(*) FROM documents WHERE change_seq = 7").fetchone() == (2,)
    db.execute("INSERT INTO audit_index VALUES (7, 1, 1, 'x')")
    db.execute("DELETE FROM pins")
    assert db.execute("SELECT kind, key, change_seq FROM removed").fetchall() == [("patient", "1001", 8)]
    assert db.execute("SELECT change_seq FROM patients").fetchone() == (8,)
    backup = sqlite3.connect(tmp_path / "client.db.v1.bak")
    assert backup.execute("SELECT COUNT(*) FROM documents").fetchone() == (2,)



def test_version_7_lists_read_through_the_indexes(tmp_path: Path) -> None:
    db = migrated_v1_with_data(tmp_path / "client.db")
    assert_read_through_indexes(
        db, "SELECT * FROM requests ORDER BY list_rank, received_at DESC, message_sha256 LIMIT 5",
        "SELECT * FROM documents ORDER BY list_rank, created_at DESC, document_id LIMIT 5",
        "SELECT * FROM documents ORDER BY created_at DESC, document_id LIMIT 5",
        "SELECT document_id FROM documents WHERE change_seq > 3")


# -- version 8: the practice service --------------------------------------------------------------


def test_version_8_adds_workstations_and_commands_to_a_v1_database_with_data(tmp_path: Path) -> None:
    """A first-release home with data becomes a service's: its rows are kept, no workstation
    is paired, no command recorded; an idempotency key is unique (a retried command cannot
    be recorded twice)."""
    db = migrated_v1_with_data(tmp_path / "client.db")
    assert db.execute("SELECT COUNT(*) FROM requests").fetchone() == (1,)
    assert db.execute("SELECT COUNT(*) FROM documents").fetchone() == (2,)
    assert db.execute("SELECT COUNT(*) FROM workstations").fetchone() == (0,)
    assert db.execute("SELECT COUNT(*) FROM commands").fetchone() == (0,)
    db.execute("INSERT INTO workstations VALUES ('w1', 'Empfang', 'staff', 'ab', 't', NULL)")
    row = ("k1", "w1", "accept", "cd", "t", "applied", None)
    db.execute("INSERT INTO commands VALUES (?, ?, ?, ?, ?, ?, ?)", row)
    with pytest.raises(sqlite3.IntegrityError):
        db.execute("INSERT INTO commands VALUES (?, ?, ?, ?, ?, ?, ?)", row)
    assert current_version(db) == SCHEMA_VERSION


# -- steps taken in any order: the service's 8 and the shares' 9 ---------------------------------

_LATER = """
CREATE TABLE later_a (id TEXT PRIMARY KEY);
"""


def later_step(db: sqlite3.Connection) -> None:
    """A step of a newer client: a table of its own."""
    for statement in filter(str.strip, _LATER.split(";")):
        db.execute(statement)


def test_a_database_that_took_9_before_8_takes_8_when_it_arrives(tmp_path: Path) -> None:
    up_to_9 = tuple(m for m in MIGRATIONS if m.version <= 9)
    without_8 = tuple(m for m in up_to_9 if m.version != 8)  # what the shares build alone ran
    path = tmp_path / "client.db"
    db = v1_database(path)  # with data, as the other tests
    migrate(db, path, without_8, CIPHER)
    db.execute("INSERT INTO shares(share_id, state, size, manifest_size, received_at, updated_at) "
               "VALUES ('s-0000001', 'received', 10, 2, 't', 't')")
    assert applied_steps(db) == {1, 2, 3, 4, 5, 6, 7, 9}
    assert migrate(db, path, up_to_9, CIPHER) == (9, 9)
    assert applied_steps(db) == set(range(1, 10)) and current_version(db) == 9
    assert db.execute("SELECT COUNT(*) FROM workstations").fetchone() == (0,)
    assert db.execute("SELECT COUNT(*) FROM commands").fetchone() == (0,)
    assert db.execute("SELECT share_id FROM shares").fetchall() == [("s-0000001",)]
    assert (tmp_path / "client.db.v9.bak").exists()
    assert migrate(db, path, up_to_9, CIPHER) == (9, 9)


def test_a_database_that_took_a_step_this_client_does_not_know_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "client.db"
    db = v1_database(path)
    migrate(db, path, (*MIGRATIONS, Migration(SCHEMA_VERSION + 1, "a newer client's step", later_step)), CIPHER)
    with pytest.raises(StateError, match=rf"steps {SCHEMA_VERSION + 1} unknown here.*newer Practice Client"):
        migrate(db, path, MIGRATIONS, CIPHER)


def test_a_database_of_a_client_before_the_steps_were_recorded_took_every_step_to_its_version(
        tmp_path: Path) -> None:
    path = tmp_path / "client.db"
    db = v1_database(path)
    migrate(db, path, MIGRATIONS[:7], CIPHER)  # 1..7, as main's clients left it
    db.execute("DELETE FROM meta WHERE key = 'schema_steps'")  # they kept the version only
    assert applied_steps(db) == set(range(1, 8))
    assert migrate(db, path, MIGRATIONS, CIPHER) == (7, SCHEMA_VERSION)
    assert applied_steps(db) == set(range(1, SCHEMA_VERSION + 1))


# -- version 10: patients found by birth date through a blind index ------------------------------


def test_version_10_gives_every_patient_the_blind_index_of_the_birth_date(tmp_path: Path) -> None:
    """Patients recorded before the step get their key (equal for a shared birthday, other
    for another day), found through an index; no row counts as changed for it (the lists
    do not refresh every patient), the stamping triggers are back as they were, and a
    second run of the step changes nothing."""
    path = tmp_path / "client.db"
    db = v1_database(path)  # Erika, 1001, born 1964-08-12
    for number, name, born in (("1002", "Erika Mustermann", "1964-08-12"), ("1003", "Gisela Beispiel", "1975-05-05")):
        db.execute("INSERT INTO patients VALUES (?, ?, ?, NULL, '2026-01-01T00:00:00Z')",
                   (number, v1_sealed("patients.name", name), v1_sealed("patients.birth_date", born)))
    migrate(db, path, tuple(m for m in MIGRATIONS if m.version < 10), CIPHER)
    triggers = set(db.execute("SELECT name, sql FROM sqlite_master WHERE type = 'trigger'").fetchall())
    assert migrate(db, path, MIGRATIONS, CIPHER) == (9, SCHEMA_VERSION)
    keys = dict(db.execute("SELECT patient_number, birth_key FROM patients").fetchall())
    assert keys["1001"] == keys["1002"] == birth_key(CIPHER, "1964-08-12") != keys["1003"]
    assert keys["1003"] == birth_key(CIPHER, " 1975-05-05 ")  # written the one ISO way
    assert db.execute("SELECT DISTINCT change_seq FROM patients").fetchall() == [(0,)]
    assert set(db.execute("SELECT name, sql FROM sqlite_master WHERE type = 'trigger'").fetchall()) == triggers
    assert_read_through_indexes(db, "SELECT * FROM patients WHERE birth_key = x'00'")
    db.execute("BEGIN")
    _birth_keys(db, CIPHER)
    db.execute("COMMIT")
    assert dict(db.execute("SELECT patient_number, birth_key FROM patients").fetchall()) == keys


def test_the_blind_index_key_is_its_own_not_the_sealing_key(tmp_path: Path) -> None:
    """The tag is keyed (no one without the database key can test a guessed date) by a key
    derived for this purpose: not the key that seals the fields, and bound to its column."""
    tag = birth_key(CIPHER, "1964-08-12")
    assert len(tag) == 32 and b"1964" not in tag
    assert tag != hmac.new(KEY, b"patients.birth_date\x001964-08-12", hashlib.sha256).digest()
    assert tag != hashlib.sha256(b"1964-08-12").digest()
    assert tag != CIPHER.blind("pins.birth_date", "1964-08-12")
