"""The store: atomic, audited state changes, the outbox state machine, and
personal fields encrypted at rest (a stolen database file shows no patient data)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from practice_client.context import Context
from practice_client.core.errors import StateError
from practice_client.core.models import Document, DocumentState, Patient, Pin
from practice_client.core.store import Store

PATIENT = Patient("4711", "Erika Mustermann", "1964-08-12", "+491711234567")


def make_pin(fpr: str = "A" * 40, number: str = "4711") -> Pin:
    return Pin(fpr, number, "Erika Mustermann", "1964-08-12", "+491711234567", "video",
               "2026-11-01T10:00:00Z", "2026-11-02T10:00:00Z", "-----BEGIN PGP PUBLIC KEY BLOCK-----")


def make_document(doc_id: str = "doc-1") -> Document:
    return Document(doc_id, DocumentState.DETECTED, "Mustermann_Arztbrief.pdf", "/spool/doc-1", 10,
                    "0" * 64, "2026-11-30T00:00:00Z", "2026-11-30T00:00:00Z")


@pytest.fixture
def ctx(client_home: Path) -> Context:
    context = Context()
    yield context
    context.close()


def test_personal_fields_are_not_in_the_database_file(ctx: Context) -> None:
    ctx.store.upsert_patients([PATIENT], "test.csv")
    ctx.store.pin(make_pin())
    ctx.store.add_document(make_document())
    ctx.store.close()
    raw = b"".join(p.read_bytes() for p in ctx.home.root.glob("state.sqlite3*"))
    for secret in (b"Mustermann", b"1964-08-12", b"+491711234567", b"Arztbrief"):
        assert secret not in raw
    del ctx.__dict__["store"]
    assert ctx.store.get_patient("4711") == PATIENT
    assert ctx.store.get_document("doc-1").original_name == "Mustermann_Arztbrief.pdf"


def test_wrong_database_key_is_a_clear_error(ctx: Context) -> None:
    ctx.store.upsert_patients([PATIENT], "test.csv")
    from practice_client.core.errors import SecretError
    from practice_client.core.fieldcrypt import FieldCipher

    other = Store(ctx.home.database, ctx.store.audit, FieldCipher(b"\x01" * 32))
    with pytest.raises(SecretError, match="wrong database key"):
        other.get_patient("4711")
    other.close()


def test_second_pin_for_a_patient_needs_replace_and_is_audited(ctx: Context) -> None:
    ctx.store.pin(make_pin("A" * 40))
    with pytest.raises(StateError, match="--replace"):
        ctx.store.pin(make_pin("B" * 40))
    assert ctx.store.get_pin_for_patient("4711").fingerprint == "A" * 40
    ctx.store.pin(make_pin("B" * 40), replace=True)
    assert ctx.store.get_pin("A" * 40) is None
    events = [e["event"] for e in ctx.store.audit.entries()]
    assert events[-2:] == ["trust.pinned", "trust.repinned"]
    assert ctx.store.verify_audit().ok


def test_outbox_refuses_transitions_outside_the_state_machine(ctx: Context) -> None:
    ctx.store.add_document(make_document())
    with pytest.raises(StateError):
        ctx.store.transition("doc-1", DocumentState.DELIVERED)
    ctx.store.transition("doc-1", DocumentState.MATCHED, request_id="r-1", match_method="pattern")
    ctx.store.transition("doc-1", DocumentState.ENCRYPTED, ciphertext_sha256="1" * 64)
    ctx.store.transition("doc-1", DocumentState.UPLOADING)
    done = ctx.store.transition("doc-1", DocumentState.DELIVERED, delivered_at="2026-11-30T01:00:00Z")
    assert done.state is DocumentState.DELIVERED and done.request_id == "r-1"
    with pytest.raises(StateError):
        ctx.store.transition("doc-1", DocumentState.FAILED, error="late")
    events = [e["event"] for e in ctx.store.audit.entries()]
    assert events[-5:] == ["document.detected", "document.matched", "document.encrypted",
                           "document.uploading", "document.delivered"]


def test_failed_transaction_changes_nothing_and_writes_no_audit(ctx: Context) -> None:
    ctx.store.add_document(make_document())
    before = ctx.home.audit.read_bytes()
    with pytest.raises(RuntimeError), ctx.store.transaction("document.matched", {"document_id": "doc-1"}) as db:
        db.execute("UPDATE documents SET state='matched' WHERE document_id='doc-1'")
        raise RuntimeError("crash inside the transaction")
    assert ctx.store.get_document("doc-1").state is DocumentState.DETECTED
    assert ctx.home.audit.read_bytes() == before


def test_audit_line_written_but_not_committed_is_adopted_and_flagged(ctx: Context) -> None:
    """A crash between the audit append and COMMIT: on reopen the chain stays valid."""
    ctx.store.record("setup.completed", offline=True)
    head = ctx.store.audit_head()
    entry = ctx.store.audit.make_entry(head, "document.matched", {"document_id": "x"})
    ctx.store.audit.append([entry.to_line()])  # as if the process died before COMMIT
    ctx.store.close()
    del ctx.__dict__["store"]
    assert ctx.store.verify_audit().ok
    assert [e["event"] for e in ctx.store.audit.entries()][-1] == "audit.uncommitted_entry"


def test_cut_tail_of_audit_log_is_detected(ctx: Context) -> None:
    for n in range(3):
        ctx.store.record("key.exported", n=n)
    lines = ctx.home.audit.read_bytes().splitlines(keepends=True)
    ctx.home.audit.write_bytes(b"".join(lines[:-1]))
    result = ctx.store.verify_audit()
    assert not result.ok and "removed" in result.problem


def test_database_is_in_wal_mode(ctx: Context) -> None:
    ctx.store.record("probe")
    conn = sqlite3.connect(ctx.home.database)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()
