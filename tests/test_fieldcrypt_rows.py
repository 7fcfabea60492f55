"""Sealed personal fields are bound to their row: whoever can write the database file but
has no key cannot swap two patients' names (or two requests' summaries, two documents'
file names) unnoticed. A database of the first releases (fields bound to the column only)
is re-sealed by a migration step, after the backup, and its old values are refused
afterwards - also when copied back from that backup."""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path

import pytest

from practice_client.core.audit import AuditLog, ChainKey
from practice_client.core.errors import SecretError
from practice_client.core.fieldcrypt import FieldCipher
from practice_client.core.migrations import MIGRATIONS, SCHEMA_VERSION, _bind_fields_to_rows
from practice_client.core.models import Document, DocumentState, Patient
from practice_client.core.store import Store
from tests.conftest import v1_sealed as sealed_as_v1
from tests.support.patients import ERIKA

KEY = os.urandom(32)
AUDIT_KEY = ChainKey(os.urandom(32))
MAX = Patient("1002", "Max Muster", "1970-01-02", "+491609876543")


def open_store(folder: Path) -> Store:
    return Store(folder / "state.sqlite3", AuditLog(folder / "audit.jsonl", AUDIT_KEY), FieldCipher(KEY))


def swap(database: Path, table: str, column: str, key: str, first: str, second: str) -> None:
    """The attacker: exchange two rows' sealed values with plain SQL (no key needed)."""
    db = sqlite3.connect(database, isolation_level=None)
    a = db.execute(f"SELECT {column} FROM {table} WHERE {key}=?", (first,)).fetchone()[0]  # noqa: S608
    b = db.execute(f"SELECT {column} FROM {table} WHERE {key}=?", (second,)).fetchone()[0]  # noqa: S608
    db.execute(f"UPDATE {table} SET {column}=? WHERE {key}=?", (b, first))  # noqa: S608
    db.execute(f"UPDATE {table} SET {column}=? WHERE {key}=?", (a, second))  # noqa: S608
    db.close()


def test_swapping_two_patients_names_is_detected(tmp_path: Path) -> None:
    store = open_store(tmp_path)
    store.upsert_patients([ERIKA, MAX], "test")
    store.close()
    swap(tmp_path / "state.sqlite3", "patients", "name", "patient_number", "1001", "1002")
    store = open_store(tmp_path)
    with pytest.raises(SecretError, match="moved from another row"):
        store.get_patient("1001")
    with pytest.raises(SecretError, match="of row 1002"):
        store.get_patient("1002")
    store.close()


def test_swapping_two_documents_file_names_is_detected(tmp_path: Path) -> None:
    store = open_store(tmp_path)
    for doc_id, name in (("d-1", "Mustermann_Erika_Befund.pdf"), ("d-2", "Muster_Max_Befund.pdf")):
        store.add_document(Document(doc_id, DocumentState.DETECTED, name, "/x", 1, "", "t", "t"))
    store.close()
    swap(tmp_path / "state.sqlite3", "documents", "original_name", "document_id", "d-1", "d-2")
    store = open_store(tmp_path)
    with pytest.raises(SecretError):
        store.get_document("d-1")
    store.close()


# -- a database of the first releases -----------------------------------------------------


def v1_sealed(column: str, value: str | bytes) -> bytes:
    return sealed_as_v1(KEY, column, value)


def v1_database(database: Path) -> None:
    """Every table of version 1 with a row (or two), sealed the old way."""
    db = sqlite3.connect(database, isolation_level=None)
    MIGRATIONS[0].run(db, None)
    db.execute("INSERT INTO meta(key, value) VALUES ('schema_version', '1')")
    for p in (ERIKA, MAX):
        db.execute("INSERT INTO patients VALUES (?, ?, ?, ?, '2026-01-01T00:00:00Z')",
                   (p.patient_number, v1_sealed("patients.name", p.name),
                    v1_sealed("patients.birth_date", p.birth_date), v1_sealed("patients.phone", p.phone)))
    db.execute("INSERT INTO pins VALUES (?, '1001', ?, ?, ?, 'video', 't1', 't2', ?)",
               ("A" * 40, v1_sealed("pins.name", ERIKA.name), v1_sealed("pins.birth_date", ERIKA.birth_date),
                v1_sealed("pins.phone", ERIKA.phone), v1_sealed("pins.certificate", "CERT")))
    db.execute("INSERT INTO messages VALUES ('m1', '2026-01-01T00:00:00Z', 'imap', ?, 1)",
               (v1_sealed("messages.raw", b"From: platform\r\n\r\nhello"),))
    db.execute("INSERT INTO requests(message_sha256, request_id, received_at, source, verdict, checks, "
               "status, summary, decision_reason) VALUES ('m1', 'r1', '2026-01-01T00:00:00Z', 'imap', "
               "'verified', ?, 'declined', ?, ?)",
               (v1_sealed("requests.checks", "[]"),
                v1_sealed("requests.summary", json.dumps({"patient": {"name": ERIKA.name}})),
                v1_sealed("requests.decision_reason", "nicht unsere Patientin")))
    db.execute("INSERT INTO documents(document_id, state, original_name, source_path, size, sha256, "
               "created_at, updated_at, error, extra) VALUES ('d1', 'failed', ?, ?, 3, '', 't', 't', NULL, ?)",
               (v1_sealed("documents.original_name", "Mustermann.pdf"),
                v1_sealed("documents.source_path", "/export/failed/Mustermann.pdf"),
                v1_sealed("documents.extra", "{}")))
    db.close()


def test_a_v1_database_is_resealed_after_its_backup_and_old_values_are_refused(tmp_path: Path) -> None:
    database = tmp_path / "state.sqlite3"
    v1_database(database)
    store = open_store(tmp_path)
    assert store.get_patient("1001") == ERIKA
    assert store.get_patient("1002") == MAX
    pin = store.get_pin("A" * 40)
    assert (pin.name, pin.phone, pin.certificate) == (ERIKA.name, ERIKA.phone, "CERT")
    request = store.get_request("r1")
    assert request.summary == {"patient": {"name": ERIKA.name}}
    assert request.decision_reason == "nicht unsere Patientin"
    document = store.get_document("d1")
    assert (document.original_name, document.source_path) == ("Mustermann.pdf", "/export/failed/Mustermann.pdf")
    assert [e["event"] for e in store.audit.entries()][-1] == "store.migrated"
    store.close()

    db = sqlite3.connect(database)
    assert db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()[0] == str(SCHEMA_VERSION)
    blobs = [b for table, columns in (("patients", "name, birth_date, phone"), ("documents", "original_name, extra"))
             for row in db.execute(f"SELECT {columns} FROM {table}") for b in row]  # noqa: S608
    assert blobs and all(b[:1] == b"\x02" for b in blobs)
    db.close()

    # The backup the migration wrote first still has the old values; copied back into the
    # live database they are refused, not read (they would carry no row binding).
    backup = sqlite3.connect(tmp_path / "state.sqlite3.v1.bak")
    old_name = backup.execute("SELECT name FROM patients WHERE patient_number='1002'").fetchone()[0]
    backup.close()
    assert old_name[:1] == b"\x01"
    db = sqlite3.connect(database, isolation_level=None)
    db.execute("UPDATE patients SET name=? WHERE patient_number='1001'", (old_name,))
    db.close()
    store = open_store(tmp_path)
    with pytest.raises(SecretError, match="old version"):
        store.get_patient("1001")
    store.close()


def test_a_damaged_v1_field_stops_the_migration_and_changes_nothing(tmp_path: Path) -> None:
    database = tmp_path / "state.sqlite3"
    v1_database(database)
    db = sqlite3.connect(database, isolation_level=None)
    db.execute("UPDATE patients SET phone=? WHERE patient_number='1002'", (v1_sealed("patients.name", "x"),))
    db.close()
    with pytest.raises(SecretError, match="patients.phone' of row 1002"):
        open_store(tmp_path)
    db = sqlite3.connect(database)
    binding = next(m.version for m in MIGRATIONS if m.apply is _bind_fields_to_rows)
    # the steps before the binding are taken; the binding itself changed nothing
    assert db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()[0] == str(binding - 1)
    assert db.execute("SELECT name FROM patients WHERE patient_number='1001'").fetchone()[0][:1] == b"\x01"
    db.close()
