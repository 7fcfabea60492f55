"""The store: the only module that touches the database.

Every state change of a patient, pin, request or document goes through one
method here and writes exactly one audit entry *in the same transaction*: the
audit line is appended while the database write lock is held, and the audit head
is committed with the change. A crash between the two is repaired on open.

SQLite in WAL mode; ``BEGIN IMMEDIATE`` so writers queue instead of failing.
Personal fields are sealed with :class:`FieldCipher` under the database key
from the keyring.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import logging
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any, NamedTuple

from practice_client.core import acting
from practice_client.core.audit import EMPTY_HEAD, AuditHead, AuditLog, VerifyResult, now_iso
from practice_client.core.errors import StateError
from practice_client.core.fieldcrypt import FieldCipher
from practice_client.core.migrations import migrate
from practice_client.core.models import (
    TRANSITIONS,
    Check,
    Document,
    DocumentState,
    Patient,
    Pin,
    RequestRecord,
    RequestStatus,
    Verdict,
)

log = logging.getLogger(__name__)


class PendingTermination(NamedTuple):
    """An abandoned upload whose ``DELETE`` has not succeeded yet."""

    url: str
    document_id: str
    part: str
    reason: str
    since: str
    attempts: int


class Workstation(NamedTuple):
    """A workstation paired with the practice service (its credential's SHA-256 only)."""

    workstation_id: str
    name: str
    role: str
    credential_sha256: str
    paired_at: str
    revoked_at: str | None


class StoredCommand(NamedTuple):
    """A staff command the service applied or refused, by its idempotency key."""

    key: str
    workstation_id: str
    command: str
    request_sha256: str
    outcome: str  # "applied" | "refused"
    result: Any  # the JSON result or refusal; None: applied, the service stopped before the result


class StoredMessage(NamedTuple):
    """A raw message as kept, with the time it arrived (how long DNS has been waited for)."""

    sha256: str
    source: str
    raw: bytes
    received_at: datetime


MAX_MESSAGE_BYTES = 2 * 1024 * 1024  # a request message is far smaller; larger ones are never kept

# requests.decision_sent: queued for the platform, taken by it, or refused by it for good
DECISION_QUEUED, DECISION_SENT, DECISION_REFUSED = 0, 1, 2


def database_key_bytes(secret: str) -> bytes:
    """The keyring holds the database key as url-safe base64 of 32 random bytes."""
    raw = base64.urlsafe_b64decode(secret + "=" * (-len(secret) % 4))
    return raw if len(raw) == 32 else hashlib.sha256(raw).digest()


class Store:
    """Database + audit log of one home. Thread-safe (one connection behind a lock)."""

    def __init__(self, database: Path, audit: AuditLog, cipher: FieldCipher) -> None:
        self.audit = audit
        self._cipher = cipher
        self._lock = threading.RLock()
        self._listeners: list[Callable[[int], None]] = []
        self._db = sqlite3.connect(
            database, isolation_level=None, check_same_thread=False, timeout=30.0
        )
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute("PRAGMA foreign_keys=ON")
        with self._lock:
            old, new = migrate(self._db, database, cipher=cipher)
        self._repair_audit()
        if 0 < old < new:
            self.record("store.migrated", from_version=old, to_version=new)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # -- transactions and audit -------------------------------------------------

    @contextlib.contextmanager
    def transaction(self, event: str, details: Mapping[str, Any]) -> Iterator[sqlite3.Connection]:
        """One atomic state change with its one audit entry."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
                details = self._acting(self._db, details)
                head = self._head()
                entry = self.audit.make_entry(head, event, details)
                new_head = self.audit.append(entry)
                self._db.execute(
                    "INSERT OR REPLACE INTO meta(key, value) VALUES ('audit_head', ?)",
                    (new_head.encode(),),
                )
                self._db.execute("COMMIT")
            except BaseException:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                raise
        log.debug("audit %s", event)
        self._changed(new_head.seq)

    def _acting(self, db: sqlite3.Connection, details: Mapping[str, Any]) -> Mapping[str, Any]:
        """Inside a staff command (:mod:`practice_client.core.acting`): the entry names the
        workstation and OS user, and the command's first change records its idempotency key
        in this same transaction - applied once, whatever happens after the commit."""
        command = acting.current()
        if command is None:
            return details
        if not command.recorded:
            db.execute(
                "INSERT INTO commands(idempotency_key, workstation_id, command, request_sha256, applied_at, "
                "outcome) VALUES (?, ?, ?, ?, ?, 'applied')",
                (command.key, command.actor.workstation_id, command.command, command.request_sha256, now_iso()),
            )
            command.recorded = True
        return {**details, "by": command.actor.audit()}

    def add_listener(self, listener: Callable[[int], None]) -> None:
        """``listener(seq)`` after every committed change (the practice service's change feed).
        Called in the writer's thread, after the lock is released: it must only hand on."""
        self._listeners.append(listener)

    def _changed(self, seq: int) -> None:
        for listener in list(self._listeners):
            try:
                listener(seq)
            except Exception:  # a listener's bug must never fail a committed change
                log.exception("store listener failed")

    def record(self, event: str, **details: Any) -> None:
        """An audit entry with no other state change (setup, key export, ...)."""
        with self.transaction(event, details):
            pass

    def _head(self) -> AuditHead:
        row = self._db.execute("SELECT value FROM meta WHERE key='audit_head'").fetchone()
        return AuditHead.decode(row[0]) if row else EMPTY_HEAD

    def audit_head(self) -> AuditHead:
        with self._lock:
            return self._head()

    def _repair_audit(self) -> None:
        """A crash after the audit append but before COMMIT leaves one extra line whose
        state change never happened. Adopt it as history and say so in a new entry."""
        with self._lock:
            head = self._head()
            file_head, _ = self.audit.last()
            if file_head.seq == head.seq + 1 and self.audit.verify().ok:
                self._db.execute(
                    "INSERT OR REPLACE INTO meta(key, value) VALUES ('audit_head', ?)",
                    (file_head.encode(),),
                )
                uncommitted = file_head.seq
            else:
                return
        self.record("audit.uncommitted_entry", seq=uncommitted)

    def verify_audit(self) -> VerifyResult:
        with self._lock:
            return self.audit.verify(self._head())

    # -- meta -------------------------------------------------------------------

    def get_meta(self, key: str) -> str | None:
        with self._lock:
            row = self._db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        """Bookkeeping that is not a state change of a request or document (cursors)."""
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (key, value))

    # -- patients (PMS master data) --------------------------------------------

    def upsert_patients(self, patients: Iterable[Patient], source: str) -> int:
        seal = self._cipher.seal
        rows = [
            (p.patient_number, seal("patients.name", p.patient_number, p.name),
             seal("patients.birth_date", p.patient_number, p.birth_date),
             seal("patients.phone", p.patient_number, p.phone), now_iso())
            for p in patients
        ]
        with self.transaction("patients.imported", {"source": source, "count": len(rows)}) as db:
            db.executemany(
                "INSERT INTO patients(patient_number, name, birth_date, phone, updated_at) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT(patient_number) DO UPDATE SET "
                "name=excluded.name, birth_date=excluded.birth_date, phone=excluded.phone, "
                "updated_at=excluded.updated_at",
                rows,
            )
        return len(rows)

    def _patient(self, row: sqlite3.Row) -> Patient:
        op, key = self._cipher.open, row["patient_number"]
        return Patient(
            key, op("patients.name", key, row["name"]) or "",
            op("patients.birth_date", key, row["birth_date"]) or "", op("patients.phone", key, row["phone"]),
        )

    def get_patient(self, patient_number: str) -> Patient | None:
        with self._lock:
            row = self._db.execute(
                "SELECT * FROM patients WHERE patient_number=?", (patient_number,)
            ).fetchone()
        return None if row is None else self._patient(row)

    def list_patients(self) -> list[Patient]:
        with self._lock:
            rows = self._db.execute("SELECT * FROM patients ORDER BY patient_number").fetchall()
        return [self._patient(r) for r in rows]

    # -- pins (trust certificates) ---------------------------------------------

    def pin(self, pin: Pin, replace: bool = False) -> None:
        """Pin a verified trust certificate. A patient who already has a pin (or a key
        pinned for another patient) is refused unless ``replace`` - an explicit re-pin."""
        seal = self._cipher.seal
        with self._lock:
            existing = self._db.execute(
                "SELECT fingerprint, patient_number FROM pins WHERE patient_number=? OR fingerprint=?",
                (pin.patient_number, pin.fingerprint),
            ).fetchall()
        if existing and not replace:
            old = existing[0]
            if old["fingerprint"] == pin.fingerprint and old["patient_number"] == pin.patient_number:
                raise StateError(
                    f"{pin.fingerprint}: this key is already pinned for patient {pin.patient_number}"
                )
            raise StateError(
                f"patient {old['patient_number']} already has a pinned key "
                f"{old['fingerprint']}: re-pin explicitly with --replace"
            )
        event = "trust.repinned" if existing else "trust.pinned"
        details = {
            "fingerprint": pin.fingerprint,
            "patient_number": pin.patient_number,
            "replaced": [r["fingerprint"] for r in existing],
        }
        with self.transaction(event, details) as db:
            for old in existing:
                db.execute("DELETE FROM pins WHERE fingerprint=?", (old["fingerprint"],))
            db.execute(
                "INSERT INTO pins(fingerprint, patient_number, name, birth_date, phone, ident, "
                "issued_at, pinned_at, certificate) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    pin.fingerprint, pin.patient_number, seal("pins.name", pin.fingerprint, pin.name),
                    seal("pins.birth_date", pin.fingerprint, pin.birth_date),
                    seal("pins.phone", pin.fingerprint, pin.phone),
                    pin.ident, pin.issued_at, pin.pinned_at,
                    seal("pins.certificate", pin.fingerprint, pin.certificate),
                ),
            )

    def _pin(self, row: sqlite3.Row) -> Pin:
        op, key = self._cipher.open, row["fingerprint"]
        return Pin(
            fingerprint=key, patient_number=row["patient_number"],
            name=op("pins.name", key, row["name"]) or "",
            birth_date=op("pins.birth_date", key, row["birth_date"]) or "",
            phone=op("pins.phone", key, row["phone"]) or "", ident=row["ident"],
            issued_at=row["issued_at"], pinned_at=row["pinned_at"],
            certificate=op("pins.certificate", key, row["certificate"]) or "",
        )

    def get_pin(self, fingerprint: str) -> Pin | None:
        with self._lock:
            row = self._db.execute(
                "SELECT * FROM pins WHERE fingerprint=?", (fingerprint.upper(),)
            ).fetchone()
        return None if row is None else self._pin(row)

    def get_pin_for_patient(self, patient_number: str) -> Pin | None:
        with self._lock:
            row = self._db.execute(
                "SELECT * FROM pins WHERE patient_number=?", (patient_number,)
            ).fetchone()
        return None if row is None else self._pin(row)

    def list_pins(self) -> list[Pin]:
        with self._lock:
            rows = self._db.execute("SELECT * FROM pins ORDER BY patient_number").fetchall()
        return [self._pin(r) for r in rows]

    def unpin(self, fingerprint: str) -> Pin:
        pin = self.get_pin(fingerprint)
        if pin is None:
            raise StateError(f"{fingerprint}: no trust certificate with this fingerprint is pinned")
        with self.transaction(
            "trust.removed", {"fingerprint": pin.fingerprint, "patient_number": pin.patient_number}
        ) as db:
            db.execute("DELETE FROM pins WHERE fingerprint=?", (pin.fingerprint,))
        return pin

    # -- messages and requests --------------------------------------------------

    def store_message(self, raw: bytes, source: str) -> tuple[str, bool]:
        """Keep the raw message (sealed) before anything else happens to it.

        Returns its SHA-256 and whether it is new. The same bytes from two sources
        are one message (de-duplication), not a replay. A message over
        :data:`MAX_MESSAGE_BYTES` is never kept (:meth:`add_oversized_message`)."""
        if len(raw) > MAX_MESSAGE_BYTES:
            raise ValueError(f"a message of {len(raw)} bytes is over the limit of {MAX_MESSAGE_BYTES}")
        digest = hashlib.sha256(raw).hexdigest()
        with self._lock:
            known = self._db.execute(
                "SELECT 1 FROM messages WHERE sha256=?", (digest,)
            ).fetchone()
        if known:
            return digest, False
        with self.transaction("message.received", {"sha256": digest, "source": source}) as db:
            db.execute(
                "INSERT OR IGNORE INTO messages(sha256, received_at, source, raw) VALUES (?, ?, ?, ?)",
                (digest, now_iso(), source, self._cipher.seal("messages.raw", digest, raw)),
            )
        return digest, True

    def unprocessed_messages(self) -> list[StoredMessage]:
        """Messages stored but not yet verified (a crash in between, or DNS trouble)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT sha256, source, raw, received_at FROM messages WHERE processed=0 ORDER BY received_at"
            ).fetchall()
        return [
            StoredMessage(r["sha256"], r["source"],
                          self._cipher.open_bytes("messages.raw", r["sha256"], r["raw"]) or b"",
                          datetime.fromisoformat(r["received_at"].replace("Z", "+00:00")))
            for r in rows
        ]

    def request_id_seen(self, request_id: str, other_than_message: str | None = None) -> bool:
        """Replay check: has any *other* message carried this request id before and passed
        verification? A forged copy that was rejected must not burn the id of the genuine
        request (whoever saw the request first could otherwise block it)."""
        with self._lock:
            row = self._db.execute(
                "SELECT 1 FROM requests WHERE request_id=? AND message_sha256 IS NOT ? AND status != 'rejected'",
                (request_id, other_than_message),
            ).fetchone()
        return row is not None

    def add_request(self, record: RequestRecord) -> None:
        """Record a verified (or rejected) request and mark its message processed."""
        with self.transaction("request.received", self._request_details(record)) as db:
            self._insert_request(db, record)

    def add_oversized_message(self, record: RequestRecord, source: str, size: int) -> bool:
        """A message too large to be a request: only its digest is kept, with the rejected
        record (one transaction), so staff see it once and it is never checked again.
        False when these bytes were recorded before."""
        with self._lock:
            if self._db.execute("SELECT 1 FROM messages WHERE sha256=?", (record.message_sha256,)).fetchone():
                return False
            details = {**self._request_details(record), "source": source, "size": size}
            with self.transaction("message.oversized", details) as db:
                db.execute(
                    "INSERT INTO messages(sha256, received_at, source, raw, processed) VALUES (?, ?, ?, ?, 1)",
                    (record.message_sha256, now_iso(), source,
                     self._cipher.seal("messages.raw", record.message_sha256, b"")),
                )
                self._insert_request(db, record)
        return True

    @staticmethod
    def _request_details(record: RequestRecord) -> dict[str, Any]:
        return {
            "request_id": record.request_id,
            "message_sha256": record.message_sha256,
            "verdict": str(record.verdict),
            "failed_checks": [c.name for c in record.checks if c.status != "pass"],
        }

    def _insert_request(self, db: sqlite3.Connection, record: RequestRecord) -> None:
        seal = self._cipher.seal
        db.execute(
            "INSERT INTO requests(message_sha256, request_id, received_at, source, verdict, "
            "checks, status, patient_fingerprint, patient_number, summary, expires_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                record.message_sha256, record.request_id, record.received_at, record.source,
                str(record.verdict),
                seal("requests.checks", record.message_sha256, json.dumps([c.to_json() for c in record.checks])),
                str(record.status), record.patient_fingerprint, record.patient_number,
                seal("requests.summary", record.message_sha256, json.dumps(record.summary)),
                record.expires_at,
            ),
        )
        db.execute("UPDATE messages SET processed=1 WHERE sha256=?", (record.message_sha256,))

    def mark_message_duplicate(self, sha256: str) -> None:
        """A second copy of an already recorded request (other source, other mail headers):
        kept for the record, processed, no new request."""
        with self.transaction("message.duplicate", {"sha256": sha256}) as db:
            db.execute("UPDATE messages SET processed=1 WHERE sha256=?", (sha256,))

    def _request(self, row: sqlite3.Row) -> RequestRecord:
        op, key = self._cipher.open, row["message_sha256"]
        return RequestRecord(
            request_id=row["request_id"], message_sha256=key,
            received_at=row["received_at"], source=row["source"], verdict=Verdict(row["verdict"]),
            checks=[Check.from_json(c) for c in json.loads(op("requests.checks", key, row["checks"]) or "[]")],
            status=RequestStatus(row["status"]), patient_fingerprint=row["patient_fingerprint"],
            patient_number=row["patient_number"],
            summary=json.loads(op("requests.summary", key, row["summary"]) or "{}"),
            expires_at=row["expires_at"], decided_at=row["decided_at"],
            decision_reason=op("requests.decision_reason", key, row["decision_reason"]),
            override=bool(row["override"]), decision_sent=row["decision_sent"] == DECISION_SENT,
            decision_refused=row["decision_sent"] == DECISION_REFUSED,
            accepted_fingerprint=row["accepted_fingerprint"],
        )

    def get_request(self, request_id: str) -> RequestRecord | None:
        """The actionable record of a request id (a rejected replay never shadows it)."""
        with self._lock:
            row = self._db.execute(
                "SELECT * FROM requests WHERE request_id=? "
                "ORDER BY status = 'rejected', received_at LIMIT 1",
                (request_id,),
            ).fetchone()
        return None if row is None else self._request(row)

    def list_requests(self) -> list[RequestRecord]:
        with self._lock:
            rows = self._db.execute("SELECT * FROM requests ORDER BY received_at DESC").fetchall()
        return [self._request(r) for r in rows]

    def decide(
        self, request_id: str, status: RequestStatus, reason: str | None, override: bool,
        fingerprint: str | None = None,
    ) -> RequestRecord:
        """Accept or decline an open request; the caller has checked the rules. An accept
        records ``fingerprint``, the pinned key that signed the request (default: the
        request's own): documents go to that key and no other without staff's decision."""
        current = self.get_request(request_id)
        if current is None:
            raise StateError(f"{request_id}: no such request")
        if current.status is not RequestStatus.OPEN:
            raise StateError(f"{request_id}: the request is already {current.status}")
        accepted = (fingerprint or current.patient_fingerprint) if status is RequestStatus.ACCEPTED else None
        details: dict[str, Any] = {"request_id": request_id, "override": override, "has_reason": bool(reason)}
        if accepted:
            details["fingerprint"] = accepted
        with self.transaction(f"request.{status}", details) as db:
            db.execute(
                "UPDATE requests SET status=?, decided_at=?, decision_reason=?, override=?, "
                "accepted_fingerprint=? WHERE message_sha256=?",
                (str(status), now_iso(), self._cipher.seal("requests.decision_reason", current.message_sha256, reason),
                 int(override), accepted, current.message_sha256),
            )
        result = self.get_request(request_id)
        assert result is not None
        return result

    def pending_decisions(self) -> list[RequestRecord]:
        """Decisions not yet reported to the platform (queued until it is reachable)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT * FROM requests WHERE status IN ('accepted', 'declined') AND decision_sent=?",
                (DECISION_QUEUED,),
            ).fetchall()
        return [self._request(r) for r in rows]

    def mark_decision_sent(self, request_id: str, **details: Any) -> None:
        self._mark_decision(request_id, DECISION_SENT, "request.decision_sent", details)

    def mark_decision_refused(self, request_id: str, reason: str) -> None:
        """The platform refused the decision for good: it leaves the queue (audited with
        the platform's reason), so the decisions behind it still go out."""
        self._mark_decision(request_id, DECISION_REFUSED, "request.decision_refused", {"reason": reason})

    def _mark_decision(self, request_id: str, value: int, event: str, details: dict[str, Any]) -> None:
        with self.transaction(event, {"request_id": request_id, **details}) as db:
            db.execute(
                "UPDATE requests SET decision_sent=? WHERE request_id=? AND status != 'rejected'",
                (value, request_id),
            )

    # -- documents (the outbox) -------------------------------------------------

    def add_document(self, doc: Document) -> None:
        """The row exists before any work on the file starts."""
        seal = self._cipher.seal
        details = {"document_id": doc.document_id, "state": str(doc.state), "size": doc.size}
        with self.transaction("document.detected", details) as db:
            db.execute(
                "INSERT INTO documents(document_id, state, original_name, source_path, size, sha256, "
                "created_at, updated_at, request_id, match_method, extra) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    doc.document_id, str(doc.state),
                    seal("documents.original_name", doc.document_id, doc.original_name),
                    seal("documents.source_path", doc.document_id, doc.source_path), doc.size, doc.sha256,
                    doc.created_at, doc.updated_at, doc.request_id, doc.match_method,
                    seal("documents.extra", doc.document_id, json.dumps(doc.extra)),
                ),
            )

    _DOC_FIELDS = frozenset(
        {"request_id", "match_method", "error", "attempts", "ciphertext_sha256",
         "manifest_sha256", "delivered_at", "source_path", "extra", "sha256", "size", "parked_at"}
    )
    _SEALED = frozenset({"error", "source_path", "extra"})

    def transition(
        self, document_id: str, new: DocumentState, *, uploads: Mapping[str, str] | None = None,
        abandon: str | None = None, audit: Mapping[str, Any] | None = None, **changes: Any,
    ) -> Document:
        """Move a document to ``new`` (checked against the state machine), atomically + audited.
        The state is read and checked inside the write transaction: no other writer can
        move the document in between. In the same transaction: ``uploads`` stores upload
        URLs by part (before a byte is sent to them); ``abandon`` (a reason) moves every
        stored upload of the document to the pending terminations; ``delivered`` forgets
        the document's upload URLs (done). ``audit``: identifiers the entry must also hold
        (e.g. both fingerprints of a held document) - never patient data."""
        unknown = set(changes) - self._DOC_FIELDS
        if unknown:
            raise ValueError(f"unknown document fields {sorted(unknown)}")
        columns, values = ["state=?", "updated_at=?"], [str(new), now_iso()]
        for key, value in changes.items():
            if key == "extra":
                value = json.dumps(value)
            if key in self._SEALED:
                value = self._cipher.seal(f"documents.{key}", document_id, value)
            columns.append(f"{key}=?")
            values.append(value)
        details: dict[str, Any] = {"document_id": document_id, **(audit or {})}
        for key in ("request_id", "match_method"):
            if key in changes:
                details[key] = changes[key]
        with self.transaction(f"document.{new}", details) as db:
            found = db.execute("SELECT state FROM documents WHERE document_id=?", (document_id,)).fetchone()
            if found is None:
                raise StateError(f"{document_id}: no such document")
            old = DocumentState(found[0])
            if new not in TRANSITIONS[old]:
                raise StateError(f"{document_id}: cannot go from {old} to {new}")
            details["from"] = str(old)  # the audit entry is written from ``details`` at commit
            row = db.execute(
                f"UPDATE documents SET {', '.join(columns)} WHERE document_id=? RETURNING *",  # noqa: S608
                (*values, document_id),
            ).fetchone()
            self._change_uploads(db, document_id, uploads, abandon, new is DocumentState.DELIVERED, details)
        return self._document(row)

    def _document(self, row: sqlite3.Row) -> Document:
        op, key = self._cipher.open, row["document_id"]
        return Document(
            document_id=key, state=DocumentState(row["state"]),
            original_name=op("documents.original_name", key, row["original_name"]) or "",
            source_path=op("documents.source_path", key, row["source_path"]) or "",
            size=row["size"], sha256=row["sha256"], created_at=row["created_at"],
            updated_at=row["updated_at"], request_id=row["request_id"],
            match_method=row["match_method"], error=op("documents.error", key, row["error"]),
            attempts=row["attempts"], ciphertext_sha256=row["ciphertext_sha256"],
            manifest_sha256=row["manifest_sha256"], delivered_at=row["delivered_at"],
            extra=json.loads(op("documents.extra", key, row["extra"]) or "{}"),
        )

    def get_document(self, document_id: str) -> Document | None:
        with self._lock:
            row = self._db.execute(
                "SELECT * FROM documents WHERE document_id=?", (document_id,)
            ).fetchone()
        return None if row is None else self._document(row)

    def list_documents(self, states: Iterable[DocumentState] | None = None) -> list[Document]:
        with self._lock:
            if states is None:
                rows = self._db.execute("SELECT * FROM documents ORDER BY created_at").fetchall()
            else:
                wanted = [str(s) for s in states]
                marks = ",".join("?" * len(wanted))
                rows = self._db.execute(
                    f"SELECT * FROM documents WHERE state IN ({marks}) ORDER BY created_at",  # noqa: S608
                    wanted,
                ).fetchall()
        return [self._document(r) for r in rows]

    # -- upload URLs and pending terminations (tus) ------------------------------

    @staticmethod
    def _change_uploads(
        db: sqlite3.Connection, document_id: str, uploads: Mapping[str, str] | None,
        abandon: str | None, done: bool, details: dict[str, Any],
    ) -> None:
        if abandon is not None:
            moved = db.execute(
                "INSERT OR IGNORE INTO terminations(url, document_id, part, reason, since) "
                "SELECT url, document_id, part, ?, ? FROM uploads WHERE document_id=?",
                (abandon, now_iso(), document_id),
            ).rowcount
            db.execute("DELETE FROM uploads WHERE document_id=?", (document_id,))
            if moved:
                details["uploads_abandoned"] = moved
                details["reason"] = abandon
        if uploads:
            db.executemany(
                "INSERT OR REPLACE INTO uploads(document_id, part, url, created_at) VALUES (?, ?, ?, ?)",
                [(document_id, part, url, now_iso()) for part, url in sorted(uploads.items())],
            )
            details["uploads_created"] = sorted(uploads)
        if done:
            db.execute("DELETE FROM uploads WHERE document_id=?", (document_id,))

    def uploads_of(self, document_id: str) -> dict[str, str]:
        """The stored upload URL of each part of a document."""
        with self._lock:
            rows = self._db.execute(
                "SELECT part, url FROM uploads WHERE document_id=?", (document_id,)).fetchall()
        return {r["part"]: r["url"] for r in rows}

    def record_upload(self, document_id: str, part: str, url: str) -> None:
        """Store an upload URL without a state change (a ciphertext streamed while gpg
        still writes it) - before the first byte is sent to it."""
        details = {"document_id": document_id, "uploads_created": [part]}
        with self.transaction("document.upload_created", details) as db:
            self._change_uploads(db, document_id, {part: url}, None, False, details)

    def abandon_uploads(self, document_id: str, reason: str) -> int:
        """Move every stored upload of a document to the pending terminations (one
        transaction: a crash after it still ends in their DELETE). Returns how many."""
        with self._lock:
            if not self._db.execute("SELECT 1 FROM uploads WHERE document_id=?", (document_id,)).fetchone():
                return 0
        details: dict[str, Any] = {"document_id": document_id}
        with self.transaction("document.uploads_abandoned", details) as db:
            self._change_uploads(db, document_id, None, reason, False, details)
        return int(details.get("uploads_abandoned", 0))

    def pending_terminations(self, document_id: str | None = None) -> list[PendingTermination]:
        """Abandoned uploads whose DELETE has not succeeded yet (of one document, or all)."""
        query = "SELECT url, document_id, part, reason, since, attempts FROM terminations"
        with self._lock:
            if document_id is None:
                rows = self._db.execute(query + " ORDER BY since").fetchall()
            else:
                rows = self._db.execute(query + " WHERE document_id=? ORDER BY since", (document_id,)).fetchall()
        return [PendingTermination(r["url"], r["document_id"], r["part"], r["reason"], r["since"],
                                   r["attempts"]) for r in rows]

    def termination_done(self, pending: PendingTermination, outcome: str) -> None:
        """The upload is gone from the platform (``terminated``), or only its expiration
        will remove it (``left_to_expiration``: the platform offers no termination)."""
        details = {"document_id": pending.document_id, "part": pending.part, "outcome": outcome}
        with self.transaction("upload.terminated", details) as db:
            db.execute("DELETE FROM terminations WHERE url=?", (pending.url,))

    def termination_failed(self, url: str) -> None:
        """Bookkeeping: one more attempt at a DELETE that did not go through."""
        with self._lock:
            self._db.execute("UPDATE terminations SET attempts=attempts+1 WHERE url=?", (url,))

    # -- retention ---------------------------------------------------------------

    def documents_parked_before(self, state: DocumentState, cutoff: str, limit: int) -> list[Document]:
        """Documents in ``state`` whose original is kept since before ``cutoff`` (oldest first)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT * FROM documents WHERE state=? AND parked_at IS NOT NULL AND parked_at < ? "
                "ORDER BY parked_at LIMIT ?", (str(state), cutoff, limit),
            ).fetchall()
        return [self._document(r) for r in rows]

    def originals_removed(self, document_ids: list[str], what: str, days: int) -> None:
        """Retention removed the kept originals of these documents (one audited transaction)."""
        details = {"what": what, "kept_days": days, "count": len(document_ids), "document_ids": document_ids}
        with self.transaction("retention.originals_removed", details) as db:
            db.executemany("UPDATE documents SET parked_at=NULL WHERE document_id=?",
                           [(d,) for d in document_ids])

    def messages_kept_before(self, cutoff: str, now: str, limit: int) -> list[str]:
        """Digests of raw messages kept since before ``cutoff`` whose request is done: not
        open, and not accepted and still valid at ``now``."""
        with self._lock:
            rows = self._db.execute(
                "SELECT sha256 FROM messages WHERE processed=1 AND received_at < ? AND sha256 NOT IN "
                "(SELECT message_sha256 FROM requests WHERE status='open' OR (status='accepted' "
                "AND (expires_at IS NULL OR expires_at > ?))) ORDER BY received_at LIMIT ?",
                (cutoff, now, limit),
            ).fetchall()
        return [r[0] for r in rows]

    def remove_messages(self, digests: list[str], days: int) -> None:
        """Retention: the raw bytes of these messages go; digest and verdict stay (replay
        protection, the record). One audited transaction."""
        empty = [(self._cipher.seal("messages.raw", d, b""), d) for d in digests]
        details = {"kept_days": days, "count": len(digests), "sha256": digests}
        with self.transaction("retention.messages_removed", details) as db:
            db.executemany("UPDATE messages SET raw=?, processed=2 WHERE sha256=? AND processed=1", empty)

    # -- the practice service: workstations and idempotent commands ---------------------

    def add_workstation(self, workstation: Workstation) -> None:
        details = {"workstation_id": workstation.workstation_id, "workstation": workstation.name,
                   "role": workstation.role}
        with self.transaction("service.workstation_paired", details) as db:
            db.execute(
                "INSERT INTO workstations(workstation_id, name, role, credential_sha256, paired_at) "
                "VALUES (?, ?, ?, ?, ?)",
                (workstation.workstation_id, workstation.name, workstation.role,
                 workstation.credential_sha256, workstation.paired_at),
            )

    def revoke_workstation(self, workstation_id: str) -> Workstation:
        found = self.workstation(workstation_id)
        if found is None or found.revoked_at is not None:
            raise StateError(f"{workstation_id}: no paired workstation with this id")
        details = {"workstation_id": workstation_id, "workstation": found.name}
        with self.transaction("service.workstation_unpaired", details) as db:
            db.execute("UPDATE workstations SET revoked_at=? WHERE workstation_id=?", (now_iso(), workstation_id))
        revoked = self.workstation(workstation_id)
        assert revoked is not None
        return revoked

    def workstation(self, workstation_id: str) -> Workstation | None:
        with self._lock:
            row = self._db.execute("SELECT * FROM workstations WHERE workstation_id=?", (workstation_id,)).fetchone()
        return None if row is None else Workstation(*(row[k] for k in Workstation._fields))

    def list_workstations(self) -> list[Workstation]:
        with self._lock:
            rows = self._db.execute("SELECT * FROM workstations ORDER BY paired_at").fetchall()
        return [Workstation(*(r[k] for k in Workstation._fields)) for r in rows]

    def stored_command(self, key: str) -> StoredCommand | None:
        with self._lock:
            row = self._db.execute("SELECT * FROM commands WHERE idempotency_key=?", (key,)).fetchone()
        if row is None:
            return None
        return StoredCommand(row["idempotency_key"], row["workstation_id"], row["command"], row["request_sha256"],
                             row["outcome"], None if row["result"] is None else json.loads(row["result"]))

    def finish_command(self, command: acting.Acting, outcome: str, result: Any) -> None:
        """Bookkeeping after a command: its result (applied) or refusal. A command that
        changed nothing gets its key here, so a retry is refused the same way."""
        text = json.dumps(result, sort_keys=True)
        with self._lock:
            if command.recorded:
                self._db.execute("UPDATE commands SET outcome=?, result=? WHERE idempotency_key=?",
                                 (outcome, text, command.key))
            else:
                self._db.execute(
                    "INSERT OR IGNORE INTO commands(idempotency_key, workstation_id, command, request_sha256, "
                    "applied_at, outcome, result) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (command.key, command.actor.workstation_id, command.command, command.request_sha256,
                     now_iso(), outcome, text),
                )
