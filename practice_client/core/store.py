"""The store: the only module that touches the database.

Every state change of a patient, pin, request or document goes through one
method here and writes exactly one audit entry *in the same transaction*: the
audit line is appended while the database write lock is held, and the audit head
(authenticated with the audit key) is committed with the change, together with
the entry's place in the file (``audit_index``). A crash between the two is
repaired on open. Every row the change touched is stamped with the entry's seq
(triggers, see migration 7), so readers ask for "what changed since entry N".

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
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, NamedTuple

from practice_client.core import acting
from practice_client.core.audit import (
    EMPTY_HEAD,
    KEYED,
    AuditHead,
    AuditLog,
    Position,
    VerifyResult,
    now_iso,
    parse_line,
    terms_of,
)
from practice_client.core.errors import PracticeClientError, StateError
from practice_client.core.fieldcrypt import FieldCipher
from practice_client.core.migrations import STAMP, birth_day, birth_key, migrate
from practice_client.core.models import (
    TRANSITIONS,
    Check,
    Document,
    DocumentState,
    Patient,
    Pin,
    RequestRecord,
    RequestStatus,
    Share,
    Verdict,
)
from practice_client.core.text import Text

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


SortKey = tuple[Any, ...]


class Order(NamedTuple):
    """A list's order: SQL expressions and their directions; the last makes it total."""

    columns: tuple[str, ...]
    descending: tuple[bool, ...]


REQUESTS_NEWEST = Order(("received_at", "message_sha256"), (True, True))
REQUESTS_BY_URGENCY = Order(("list_rank", "received_at", "message_sha256"), (False, True, False))
DOCUMENTS_NEWEST = Order(("created_at", "document_id"), (True, True))
DOCUMENTS_BY_URGENCY = Order(("list_rank", "created_at", "document_id"), (False, True, False))
PATIENTS_BY_NUMBER = Order(("length(patient_number)", "patient_number"), (False, False))
SHARES_BY_URGENCY = Order(("list_rank", "received_at", "share_id"), (False, True, False))
SHARES_NEWEST = Order(("received_at", "share_id"), (True, True))

# kind -> the (table, key column) whose stamps say a row of that list changed, the removed kind
_CHANGE_SOURCES: dict[str, tuple[tuple[tuple[str, str], ...], str]] = {
    "requests": ((("requests", "message_sha256"),), "request"),
    "documents": ((("documents", "document_id"),), "document"),
    "patients": ((("patients", "patient_number"), ("pins", "patient_number")), "patient"),
    "shares": ((("shares", "share_id"),), "share"),
}


def _order_by(order: Order) -> str:
    return ", ".join(f"{c} {'DESC' if d else 'ASC'}" for c, d in zip(order.columns, order.descending, strict=True))


def _after(order: Order, key: SortKey) -> tuple[str, list[Any]]:
    """The condition for rows after ``key`` in ``order`` (keyset paging: stable while rows
    are added or change elsewhere in the list, unlike an offset)."""
    if len(key) != len(order.columns):
        raise ValueError("a sort key must have one value per column of the order")
    clauses, params = [], []
    for i, (column, descending) in enumerate(zip(order.columns, order.descending, strict=True)):
        equal = [f"{c} = ?" for c in order.columns[:i]]
        clauses.append(" AND ".join([*equal, f"{column} {'<' if descending else '>'} ?"]))
        params += [*key[:i], key[i]]
    return "(" + " OR ".join(f"({c})" for c in clauses) + ")", params


def _sort_key(row: sqlite3.Row, order: Order) -> SortKey:
    return tuple(row[f"k{i}"] for i in range(len(order.columns)))


def _filters(*conditions: tuple[str, Iterable[str] | str | None]) -> tuple[list[str], list[Any]]:
    """``column IN (...)`` for a collection of values (an empty one matches nothing),
    ``column >= value`` for a text (from that time on); ``None`` or "" is no filter."""
    where: list[str] = []
    params: list[Any] = []
    for column, value in conditions:
        if value is None:
            continue
        if isinstance(value, str):
            if value:
                where.append(f"{column} >= ?")
                params.append(value)
            continue
        values = list(value)
        where.append(f"{column} IN ({','.join('?' * len(values))})" if values else "0")
        params += values
    return where, params


def _prefix_range(prefix: str) -> tuple[str, str]:
    """[low, high) of the texts that start with ``prefix`` (an index range, unlike LIKE)."""
    return prefix, prefix + "\U0010ffff"


@dataclass
class _Batch:
    """Audit lines of a batch's changes, written at its end (one write, one fsync)."""

    end: int
    head: AuditHead  # the newest entry of the batch; tagged and stored once, at its end
    authentic: bool  # whether the head the batch builds on was (then its heads are tagged)
    lines: list[bytes] = field(default_factory=list)


class Store:
    """Database + audit log of one home. Thread-safe (one connection behind a lock)."""

    def __init__(self, database: Path, audit: AuditLog, cipher: FieldCipher) -> None:
        self.audit = audit
        self._cipher = cipher
        self._lock = threading.RLock()
        self._batch: _Batch | None = None
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
        self._open_audit()
        if 0 < old < new:
            self.record("store.migrated", from_version=old, to_version=new)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # -- transactions and audit -------------------------------------------------

    @contextlib.contextmanager
    def transaction(self, event: str, details: Mapping[str, Any]) -> Iterator[sqlite3.Connection]:
        """One atomic state change with its one audit entry (inside :meth:`batch`: one
        savepoint of the batch's transaction, its line written with the batch's)."""
        with self._lock:
            batch = self._batch
            self._db.execute("SAVEPOINT change" if batch is not None else "BEGIN IMMEDIATE")
            try:
                if batch is None:
                    authentic = self._authentic(self._head())
                    end = self._settle_tail(authentic)[0]
                else:
                    authentic, end = batch.authentic, batch.end
                yield self._db
                details = self._acting(self._db, details)
                line, head = self._write_entry(event, details, end)
                if batch is None:
                    self._set_head(self.audit.tagged(head) if authentic else head)
                    self.audit.append([line])
                    self._db.execute("COMMIT")
                else:
                    self._db.execute("RELEASE change")
                    batch.lines.append(line)
                    batch.end += len(line)
                    batch.head = head
            except BaseException:
                if batch is not None:
                    self._db.execute("ROLLBACK TO change")
                    self._db.execute("RELEASE change")
                elif self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                raise
        log.debug("audit %s", event)
        if batch is None:
            self._changed(head.seq)

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

    @contextlib.contextmanager
    def batch(self) -> Iterator[None]:
        """Many state changes as one database transaction whose audit lines are written
        with one write and one fsync at the end: for bulk work (seeding a home for the
        benchmarks, large imports). Each change inside is still checked and audited as
        its own entry; a change that fails is undone alone (its savepoint); an error
        that leaves the block undoes them all and writes no line. Holds the write lock
        throughout: keep batches to a few thousand changes."""
        with self._lock:
            if self._batch is not None:  # a batch inside a batch joins it
                yield
                return
            self._db.execute("BEGIN IMMEDIATE")
            try:
                authentic = self._authentic(self._head())
                self._batch = _Batch(self._settle_tail(authentic)[0], self._head(), authentic)
                yield
                changed = bool(self._batch.lines)
                head = self._batch.head
                if changed:
                    self._set_head(self.audit.tagged(head) if authentic else head)
                    self.audit.append(self._batch.lines)
                self._db.execute("COMMIT")
            except BaseException:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                raise
            finally:
                self._batch = None
        if changed:
            self._changed(head.seq)

    def _write_entry(self, event: str, details: Mapping[str, Any], offset: int) -> tuple[bytes, AuditHead]:
        """The entry's line, indexed at ``offset`` in the open transaction, and the head it
        makes (untagged). The caller stores the head and writes the line to the file."""
        entry = self.audit.make_entry(self._head(), event, details)
        line = entry.to_line()
        self._index_entry(entry.seq, offset, len(line), event, entry.details)
        return line, AuditHead(entry.seq, self.audit.key.link(line))

    def _index_entry(self, seq: int, offset: int, length: int, event: str, details: Mapping[str, Any]) -> None:
        self._db.execute("INSERT OR REPLACE INTO audit_index(seq, offset, length, event) VALUES (?, ?, ?, ?)",
                         (seq, offset, length, event))
        self._db.executemany("INSERT OR IGNORE INTO audit_terms(term, seq) VALUES (?, ?)",
                             [(term, seq) for term in terms_of(details)])

    def _set_head(self, head: AuditHead) -> None:
        self._db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES ('audit_head', ?)", (head.encode(),))

    def record(self, event: str, **details: Any) -> None:
        """An audit entry with no other state change (setup, key export, ...)."""
        with self.transaction(event, details):
            pass

    def _head(self) -> AuditHead:
        if self._batch is not None:
            return self._batch.head
        row = self._db.execute("SELECT value FROM meta WHERE key='audit_head'").fetchone()
        return AuditHead.decode(row[0]) if row else EMPTY_HEAD

    def audit_head(self) -> AuditHead:
        with self._lock:
            return self._head()

    def _end_of(self, seq: int) -> int | None:
        """Where the line of entry ``seq`` ends in the file (0 before the first)."""
        if seq == 0:
            return 0
        row = self._db.execute("SELECT offset + length FROM audit_index WHERE seq=?", (seq,)).fetchone()
        return None if row is None else int(row[0])

    def _open_audit(self) -> None:
        """Bring index, file and head into line when the store opens - reading only the
        file's tail, whatever its length (the whole file once, after the update that
        introduced the index):

        - lines of entries the database does not index yet are indexed;
        - a crash after the audit append but before COMMIT left lines whose state change
          never happened: they are adopted as history and a new entry says so;
        - the head of a database of the first releases gets its tag, once, when the
          audit key was created just now (a key that existed means the head was tagged
          before: an untagged one is then a forgery, which verification reports)."""
        with self._lock:
            if not self._audit_needs_care():
                return
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._index_missing_lines()
                head = self._head()
                keyed_now = head.seq > 0 and not head.tag and self.audit.new_key
                if keyed_now:
                    self._set_head(self.audit.tagged(head))
                elif head.seq and not head.tag:
                    log.error("audit log: the head is not authenticated although the audit key existed")
                _end, adopted = self._settle_tail(self._authentic(self._head()))
                self._db.execute("COMMIT")
            except BaseException:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                raise
        if keyed_now:
            self.record("audit.keyed", earlier_entries=head.seq)
        if adopted:
            self.record("audit.uncommitted_entry", seq=adopted[-1], count=len(adopted))

    def _audit_needs_care(self) -> bool:
        head = self._head()
        return head.seq > 0 and not head.tag or self._end_of(head.seq) != self.audit.size()

    def _index_missing_lines(self) -> None:
        """Index the committed lines the database has no row for (a database of the first
        releases: once). Numbered by their place in the file; verification judges them."""
        head = self._head()
        last = self._db.execute("SELECT seq, offset + length FROM audit_index ORDER BY seq DESC LIMIT 1").fetchone()
        seq, end = (int(last[0]), int(last[1])) if last else (0, 0)
        for offset, line in self.audit.lines_from(end):
            if seq >= head.seq or not line.endswith(b"\n"):
                break
            seq += 1
            try:
                record = parse_line(self.audit.path, seq, line)
                event, details = str(record.get("event", "")), record.get("details")
            except PracticeClientError:
                event, details = "", None
            self._index_entry(seq, offset, len(line), event, details if isinstance(details, dict) else {})

    def _authentic(self, head: AuditHead) -> bool:
        """Whether the head the next entry builds on was written by this store (its tag),
        or is the empty start of a new store. Only on an authentic head is the next one
        tagged: a forged head is never laundered by the changes that follow it."""
        if head.seq:
            return self.audit.head_is_authentic(head)
        return self.audit.size() == 0 and not self._holds_data()

    def _settle_tail(self, authentic: bool) -> tuple[int, list[int]]:
        """Where the next line goes, and the entries adopted on the way. MUST run inside
        the write transaction (so no other process appends meanwhile).

        Normally the file ends where the head's line ends. Beyond it: whole lines that
        chain to the head are a crashed transaction's, adopted; a torn last line (a crash
        in the middle of the write) is cut; anything else is left for verification to
        report and the log continues after it. A file shorter than the head says is
        reported by verification too."""
        head = self._head()
        end, size = self._end_of(head.seq), self.audit.size()
        if end is None or size <= end:
            return size, []
        seq, previous, position, adopted = head.seq, head.digest, end, []
        for line in self.audit.read(end, size).splitlines(keepends=True):
            if not line.endswith(b"\n"):
                log.warning("audit log: a torn write after entry %d is removed", seq)
                self.audit.truncate(position)
                size = position
                break
            if not self._continues(line, seq, previous):
                log.error("audit log: %d bytes after entry %d do not belong to the chain", size - position, seq)
                break
            seq, previous = seq + 1, self.audit.key.link(line)
            record = json.loads(line)
            self._index_entry(seq, position, len(line), str(record["event"]), record.get("details") or {})
            position += len(line)
            adopted.append(seq)
        if adopted:
            head = AuditHead(seq, previous)
            self._set_head(self.audit.tagged(head) if authentic else head)
            log.warning("audit log: entries up to %d were written but never committed; adopted", seq)
        return size, adopted

    @staticmethod
    def _continues(line: bytes, seq: int, previous: str) -> bool:
        try:
            record = json.loads(line)
            return bool(record["seq"] == seq + 1 and record["prev"] == previous and record.get("chain") == KEYED
                        and isinstance(record["event"], str) and isinstance(record.get("details", {}), dict))
        except (ValueError, KeyError, TypeError):
            return False

    def verify_audit(self, full: bool = False) -> VerifyResult:
        """Check the audit chain up to the head: only what was added since the last
        verification (and the seam to it), or every line (``full``). The verified place
        is remembered with a tag, so nobody without the key can claim one."""
        with self._lock:
            head = self._head()
            start = None if full else self._verified_position()
            emptied = head.seq == 0 and self._holds_data()
        if emptied:
            return VerifyResult(False, 0, "the audit log is empty although the database holds data: it was removed")
        if start is not None and start.seq > head.seq:
            return VerifyResult(
                False, head.seq, f"entry {start.seq} was verified before, but the log now ends at entry {head.seq}: "
                "lines were removed", full=False)
        result = self.audit.verify(head, start)
        if result.ok and result.position is not None and (start is None or result.position.seq > start.seq):
            tag = self.audit.key.tag("verified", result.position.text())
            self.set_meta("audit_verified", f"{result.position.text()}:{tag}")
        return result

    def _verified_position(self) -> Position | None:
        row = self._db.execute("SELECT value FROM meta WHERE key='audit_verified'").fetchone()
        if row is None:
            return None
        text, _, tag = str(row[0]).rpartition(":")
        if not self.audit.key.valid("verified", text, tag):
            log.warning("audit log: the remembered verified position is not authentic; checking everything")
            return None
        return Position.decode(text)

    def _holds_data(self) -> bool:
        return any(self._db.execute(f"SELECT 1 FROM {table} LIMIT 1").fetchone()  # noqa: S608 - fixed names
                   for table in ("patients", "pins", "requests", "documents"))

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
        """The PMS's master data, sealed, each row with the blind index of its birth date
        (:func:`~practice_client.core.migrations.birth_key`, for :meth:`patients_born_on`)."""
        seal = self._cipher.seal
        rows = [
            (p.patient_number, seal("patients.name", p.patient_number, p.name),
             seal("patients.birth_date", p.patient_number, p.birth_date),
             seal("patients.phone", p.patient_number, p.phone), now_iso(), birth_key(self._cipher, p.birth_date))
            for p in patients
        ]
        with self.transaction("patients.imported", {"source": source, "count": len(rows)}) as db:
            db.executemany(
                "INSERT INTO patients(patient_number, name, birth_date, phone, updated_at, birth_key) "
                "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(patient_number) DO UPDATE SET "
                "name=excluded.name, birth_date=excluded.birth_date, phone=excluded.phone, "
                "updated_at=excluded.updated_at, birth_key=excluded.birth_key",
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
            "INSERT INTO requests(message_sha256, request_id, received_at, source, verdict, "  # noqa: S608
            "checks, status, patient_fingerprint, patient_number, summary, expires_at, change_seq) "
            f"VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, {STAMP})",
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
                "UPDATE requests SET status=?, decided_at=?, decision_reason=?, override=?, "  # noqa: S608
                f"accepted_fingerprint=?, change_seq={STAMP} WHERE message_sha256=?",
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
                f"UPDATE requests SET decision_sent=?, change_seq={STAMP} "  # noqa: S608 - a fixed sub-query
                "WHERE request_id=? AND status != 'rejected'",
                (value, request_id),
            )

    # -- documents (the outbox) -------------------------------------------------

    def add_document(self, doc: Document) -> None:
        """The row exists before any work on the file starts."""
        seal = self._cipher.seal
        details = {"document_id": doc.document_id, "state": str(doc.state), "size": doc.size}
        with self.transaction("document.detected", details) as db:
            db.execute(
                "INSERT INTO documents(document_id, state, original_name, source_path, size, sha256, "  # noqa: S608
                f"created_at, updated_at, request_id, match_method, extra, change_seq) "
                f"VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, {STAMP})",
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
        columns, values = ["state=?", "updated_at=?", f"change_seq={STAMP}"], [str(new), now_iso()]
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

    # -- pages: lists of any length, a page at a time (the GUI, the list commands) -----------

    def change_cursor(self) -> int:
        """The seq of the last committed audit entry: rows stamped after it are "changes
        since" this cursor (see :meth:`changed_keys`)."""
        with self._lock:
            row = self._db.execute("SELECT MAX(seq) FROM audit_index").fetchone()
        return int(row[0] or 0)

    def changed_keys(self, kind: str, since: int, limit: int) -> tuple[list[str], bool]:
        """Keys of the rows of ``kind`` (``requests``, ``documents``, ``patients``, ``shares``) changed
        or removed after cursor ``since``: at most ``limit``, and whether there were more."""
        own, key = _CHANGE_SOURCES[kind]
        sql = " UNION ".join(f"SELECT {column} FROM {table} WHERE change_seq > :since"  # noqa: S608 - fixed names
                             for table, column in own)
        sql += " UNION SELECT key FROM removed WHERE kind = :kind AND change_seq > :since LIMIT :limit"
        with self._lock:
            rows = self._db.execute(sql, {"since": since, "kind": key, "limit": limit + 1}).fetchall()
        return [str(r[0]) for r in rows[:limit]], len(rows) > limit

    def page_requests(
        self, order: Order = REQUESTS_NEWEST, *, statuses: Iterable[str] | None = None, since: str | None = None,
        search: str = "", expiring_after: str | None = None, after: SortKey | None = None,
        keys: Iterable[str] | None = None, limit: int = 100,
    ) -> list[tuple[SortKey, RequestRecord]]:
        """Requests in ``order``: those after ``after`` (the sort key of the last row of the
        previous page), or those among ``keys`` (message digests); filtered by status, by
        the time they arrived (``since``, ISO 8601), by the start of their patient number
        or request id (``search``), by an expiry not before ``expiring_after``."""
        where, params = _filters(("status", statuses), ("received_at", since), ("message_sha256", keys))
        if search:
            low, high = _prefix_range(search.strip())
            where.append("(patient_number >= ? AND patient_number < ? OR request_id >= ? AND request_id < ?)")
            params += [low, high, low.lower(), high.lower()]
        if expiring_after is not None:
            where.append("(expires_at IS NULL OR expires_at >= ?)")
            params.append(expiring_after)
        rows = self._page("requests", order, where, params, after, limit)
        return [(_sort_key(r, order), self._request(r)) for r in rows]

    def page_documents(
        self, order: Order = DOCUMENTS_NEWEST, *, states: Iterable[str] | None = None, since: str | None = None,
        search: str = "", after: SortKey | None = None, keys: Iterable[str] | None = None, limit: int = 100,
    ) -> list[tuple[SortKey, Document]]:
        """Documents in ``order``, paged and filtered like :meth:`page_requests`; ``search``
        is the start of the document id or of the patient number of its request."""
        where, params = _filters(("state", states), ("created_at", since), ("document_id", keys))
        if search:
            low, high = _prefix_range(search.strip())
            where.append("(document_id >= ? AND document_id < ? OR request_id IN (SELECT request_id FROM requests "
                         "WHERE patient_number >= ? AND patient_number < ?))")
            params += [low.lower(), high.lower(), low, high]
        rows = self._page("documents", order, where, params, after, limit)
        return [(_sort_key(r, order), self._document(r)) for r in rows]

    def page_patients(self, *, number: str = "", limit: int = 100) -> list[tuple[SortKey, Patient]]:
        """PMS master data in number order, paged (``limit`` -1: all); ``number`` is the
        start of a patient number. Only the rows of the page are opened."""
        where, params = self._number_prefix(number)
        rows = self._page("patients", PATIENTS_BY_NUMBER, where, params, None, limit)
        return [(_sort_key(r, PATIENTS_BY_NUMBER), self._patient(r)) for r in rows]

    def count_patients(self, number: str = "") -> int:
        where, params = self._number_prefix(number)
        return self._count("patients", where, params)

    @staticmethod
    def _number_prefix(number: str) -> tuple[list[str], list[Any]]:
        needle = "".join(number.split())
        if not needle:
            return [], []
        low, high = _prefix_range(needle)
        return ["patient_number >= ? AND patient_number < ?"], [low, high]

    def page_patient_numbers(
        self, *, search: str = "", after: SortKey | None = None, keys: Iterable[str] | None = None,
        limit: int = 100,
    ) -> list[tuple[SortKey, str]]:
        """Numbers of the patients the PMS knows or a pin names, in number order; ``search``
        is the start of a patient number or of a pinned key's fingerprint (spaces ignored)."""
        where, params = _filters(("patient_number", keys))
        needle = "".join(search.split())
        if needle:
            low, high = _prefix_range(needle)
            fpr_low, fpr_high = _prefix_range(needle.upper())
            where.append("(patient_number >= ? AND patient_number < ? OR patient_number IN "
                         "(SELECT patient_number FROM pins WHERE fingerprint >= ? AND fingerprint < ?))")
            params += [low, high, fpr_low, fpr_high]
        table = "(SELECT patient_number FROM patients UNION SELECT patient_number FROM pins)"
        rows = self._page(table, PATIENTS_BY_NUMBER, where, params, after, limit)
        return [(_sort_key(r, PATIENTS_BY_NUMBER), str(r["patient_number"])) for r in rows]

    def _page(self, table: str, order: Order, where: list[str], params: list[Any],
              after: SortKey | None, limit: int) -> list[sqlite3.Row]:
        if after is not None:
            clause, values = _after(order, after)
            where, params = [*where, clause], [*params, *values]
        keys = ", ".join(f"{column} AS k{i}" for i, column in enumerate(order.columns))
        sql = (f"SELECT *, {keys} FROM {table}"  # noqa: S608 - fixed names and placeholders only
               + (f" WHERE {' AND '.join(where)}" if where else "")
               + f" ORDER BY {_order_by(order)} LIMIT ?")
        with self._lock:
            return self._db.execute(sql, [*params, limit]).fetchall()

    def count_requests(self, statuses: Iterable[str] | None = None, since: str | None = None) -> int:
        where, params = _filters(("status", statuses), ("received_at", since))
        return self._count("requests", where, params)

    def count_documents(self, states: Iterable[str] | None = None, since: str | None = None) -> int:
        where, params = _filters(("state", states), ("created_at", since))
        return self._count("documents", where, params)

    def _count(self, table: str, where: list[str], params: list[Any]) -> int:
        sql = f"SELECT COUNT(*) FROM {table}" + (f" WHERE {' AND '.join(where)}" if where else "")  # noqa: S608
        with self._lock:
            return int(self._db.execute(sql, params).fetchone()[0])

    def document_counts(self) -> dict[DocumentState, int]:
        """How many documents are in each state (the index on state: no row is read)."""
        with self._lock:
            rows = self._db.execute("SELECT state, COUNT(*) FROM documents GROUP BY state").fetchall()
        return {DocumentState(r[0]): int(r[1]) for r in rows}

    def request_counts(self) -> dict[RequestStatus, int]:
        """How many requests are in each status (the index on status: no row is read)."""
        with self._lock:
            rows = self._db.execute("SELECT status, COUNT(*) FROM requests GROUP BY status").fetchall()
        return {RequestStatus(r[0]): int(r[1]) for r in rows}

    def acceptances(self) -> tuple[int, str]:
        """(how many requests are accepted, when the last was): changes exactly when staff
        accept one - the agent's cue to match waiting files again, from the index alone."""
        with self._lock:
            row = self._db.execute(
                "SELECT COUNT(*), IFNULL(MAX(decided_at), '') FROM requests WHERE status = 'accepted'").fetchone()
        return int(row[0]), str(row[1])

    def waiting_requests(self) -> int:
        """Open requests staff can decide (a rejected one never needs them)."""
        with self._lock:
            row = self._db.execute(
                "SELECT COUNT(*) FROM requests WHERE status = 'open' AND verdict != 'rejected'").fetchone()
        return int(row[0])

    def patient_counts(self) -> tuple[int, int]:
        """(patients the PMS knows or a pin names, pinned ones)."""
        with self._lock:
            row = self._db.execute(
                "SELECT (SELECT COUNT(*) FROM (SELECT patient_number FROM patients UNION "
                "SELECT patient_number FROM pins)), (SELECT COUNT(*) FROM pins)").fetchone()
        return int(row[0]), int(row[1])

    def patients_by_number(self, numbers: Iterable[str]) -> dict[str, Patient]:
        wanted = sorted(set(numbers))
        with self._lock:
            rows = self._db.execute(
                f"SELECT * FROM patients WHERE patient_number IN ({','.join('?' * len(wanted))})",  # noqa: S608
                wanted).fetchall() if wanted else []
        return {r["patient_number"]: self._patient(r) for r in rows}

    def patients_born_on(self, birth_date: str) -> list[Patient]:
        """The PMS patients born that day (twins, namesakes), in number order: one indexed
        lookup of the blind index (birth dates are sealed), whatever the practice's size.
        The opened rows are checked against the date, so only a true birthday counts."""
        with self._lock:
            rows = self._db.execute("SELECT * FROM patients WHERE birth_key = ? ORDER BY patient_number",
                                    (birth_key(self._cipher, birth_date),)).fetchall()
        wanted = birth_day(birth_date)
        return [p for p in map(self._patient, rows) if birth_day(p.birth_date) == wanted]

    def pins_by(self, column: str, values: Iterable[str]) -> dict[str, Pin]:
        """Pins by ``fingerprint`` or ``patient_number``."""
        if column not in ("fingerprint", "patient_number"):
            raise ValueError(column)
        wanted = sorted(set(values))
        with self._lock:
            rows = self._db.execute(
                f"SELECT * FROM pins WHERE {column} IN ({','.join('?' * len(wanted))})",  # noqa: S608
                wanted).fetchall() if wanted else []
        return {r[column]: self._pin(r) for r in rows}

    def request_patients(self, request_ids: Iterable[str]) -> dict[str, tuple[str | None, str | None]]:
        """(patient number, key fingerprint) of the actionable request of each id."""
        wanted = sorted(set(request_ids))
        with self._lock:
            marks = ",".join("?" * len(wanted))
            rows = self._db.execute(
                "SELECT request_id, patient_number, patient_fingerprint FROM requests "  # noqa: S608 - placeholders
                f"WHERE status != 'rejected' AND request_id IN ({marks})", wanted).fetchall() if wanted else []
        return {r[0]: (r[1], r[2]) for r in rows}

    # -- the audit log, a page at a time ------------------------------------------------------

    def audit_page(self, *, before: int | None = None, after: int | None = None, event: str = "",
                   search: str = "", limit: int = 200) -> list[dict[str, Any]]:
        """Entries newest first: older than seq ``before`` or newer than ``after``, of one
        ``event``, naming an identifier that starts with ``search``. Found in the index and
        read from the file by offset: the log's length does not matter."""
        where: list[str] = []
        params: list[Any] = []
        if before is not None:
            where.append("i.seq < ?")
            params.append(before)
        if after is not None:
            where.append("i.seq > ?")
            params.append(after)
        if event:
            where.append("i.event = ?")
            params.append(event)
        needle = search.strip().casefold()
        if needle:
            low, high = _prefix_range(needle)
            where.append("i.seq IN (SELECT seq FROM audit_terms WHERE term >= ? AND term < ?)")
            params += [low, high]
        sql = ("SELECT i.seq, i.offset, i.length FROM audit_index i"  # noqa: S608 - placeholders only
               + (f" WHERE {' AND '.join(where)}" if where else "") + " ORDER BY i.seq DESC LIMIT ?")
        with self._lock:
            rows = self._db.execute(sql, [*params, limit]).fetchall()
        return [self._audit_entry(int(r[0]), int(r[1]), int(r[2])) for r in rows]

    def _audit_entry(self, seq: int, offset: int, length: int) -> dict[str, Any]:
        line = self.audit.read(offset, offset + length)
        try:
            record = parse_line(self.audit.path, seq, line)
        except PracticeClientError:
            record = {}
        if record.get("seq") != seq:  # the file no longer holds what was indexed: say so, show nothing
            return {"seq": seq, "time": "", "event": "audit.unreadable", "details": {}}
        return record

    def audit_link(self, seq: int) -> str | None:
        """The link (keyed hash) of entry ``seq`` as the file holds it, or None."""
        with self._lock:
            row = self._db.execute("SELECT offset, length FROM audit_index WHERE seq=?", (seq,)).fetchone()
        if row is None:
            return None
        line = self.audit.read(int(row[0]), int(row[0]) + int(row[1]))
        try:
            if json.loads(line).get("seq") != seq:
                return None
        except (ValueError, AttributeError):
            return None
        return self.audit.key.link(line)

    def audit_events(self) -> list[str]:
        """The distinct events in the log, each found with one step through the index."""
        found: list[str] = []
        with self._lock:
            while True:
                row = self._db.execute("SELECT event FROM audit_index WHERE event > ? ORDER BY event LIMIT 1",
                                       (found[-1] if found else "",)).fetchone()
                if row is None:
                    return found
                found.append(str(row[0]))

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

    # -- shares (documents patients share with the practice) ----------------------

    _SHARE_FIELDS = frozenset(
        {"reason", "detail", "patient_number", "fingerprint", "claimed_fingerprint", "sha256",
         "file_type", "manifest", "handover", "receipt", "attempts"}
    )
    _SHARE_SEALED = frozenset({"detail", "manifest", "handover"})
    _SHARE_JSON = frozenset({"manifest", "handover"})

    def add_shares(self, shares: Iterable[tuple[str, int, int]], cursor: str | None) -> list[str]:
        """Rows for shares the platform lists ((id, size, manifest size); new ones only, in
        state ``received``) and the listing's new cursor, in one transaction: a crash never
        moves the cursor past a share that has no row. Returns the ids added."""
        listed = list(shares)
        with self._lock:
            known = {r[0] for r in self._db.execute(
                f"SELECT share_id FROM shares WHERE share_id IN ({','.join('?' * len(listed))})",  # noqa: S608
                [s[0] for s in listed]).fetchall()} if listed else set()
        new = [s for s in listed if s[0] not in known]
        if not new and cursor in (None, self.get_meta("shares_cursor")):
            return []
        now = now_iso()
        details = {"share_ids": [s[0] for s in new], "count": len(new)}
        with self.transaction("share.received", details) as db:
            db.executemany(
                "INSERT OR IGNORE INTO shares(share_id, state, size, manifest_size, received_at, updated_at) "
                "VALUES (?, 'received', ?, ?, ?, ?)",
                [(sid, size, msize, now, now) for sid, size, msize in new],
            )
            if cursor is not None:
                db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES ('shares_cursor', ?)", (cursor,))
        return [s[0] for s in new]

    def _share_values(self, share_id: str, changes: Mapping[str, Any]) -> tuple[list[str], list[Any]]:
        unknown = set(changes) - self._SHARE_FIELDS
        if unknown:
            raise ValueError(f"unknown share fields {sorted(unknown)}")
        columns, values = ["updated_at=?"], [now_iso()]
        for key, value in changes.items():
            if isinstance(value, Text):  # words for staff in both languages (a detail)
                value = value.encode()
            if key in self._SHARE_JSON:
                value = json.dumps(value, sort_keys=True)
            if key in self._SHARE_SEALED:
                value = self._cipher.seal(f"shares.{key}", share_id, value)
            columns.append(f"{key}=?")
            values.append(value)
        return columns, values

    def share_transition(
        self, share_id: str, new: str, allowed_from: Iterable[str], *,
        audit: Mapping[str, Any] | None = None, **changes: Any,
    ) -> Share:
        """Move a share to ``new`` if its state (read inside the write transaction) is one
        of ``allowed_from`` (the machine's rule, :mod:`practice_client.shares.states`);
        ``changes`` in the same transaction, one audit entry ``share.<new>`` with the
        share's id, the old state and ``audit`` (identifiers only, never patient data)."""
        allowed = frozenset(allowed_from)
        columns, values = self._share_values(share_id, changes)
        columns.insert(0, "state=?")
        values.insert(0, new)
        details: dict[str, Any] = {"share_id": share_id, **(audit or {})}
        if changes.get("reason"):
            details["reason"] = changes["reason"]
        with self.transaction(f"share.{new}", details) as db:
            found = db.execute("SELECT state FROM shares WHERE share_id=?", (share_id,)).fetchone()
            if found is None:
                raise StateError(f"{share_id}: no such share")
            if found[0] not in allowed:
                raise StateError(f"{share_id}: cannot go from {found[0]} to {new}")
            details["from"] = found[0]
            row = db.execute(
                f"UPDATE shares SET {', '.join(columns)} WHERE share_id=? RETURNING *",  # noqa: S608
                (*values, share_id),
            ).fetchone()
        return self._share(row)

    def share_record(self, share_id: str, event: str, *, audit: Mapping[str, Any] | None = None,
                     **changes: Any) -> Share:
        """A change of a share that is no state change (a hand-over step, a receipt sent,
        another attempt), audited as ``event``."""
        columns, values = self._share_values(share_id, changes)
        with self.transaction(event, {"share_id": share_id, **(audit or {})}) as db:
            row = db.execute(
                f"UPDATE shares SET {', '.join(columns)} WHERE share_id=? RETURNING *",  # noqa: S608
                (*values, share_id),
            ).fetchone()
            if row is None:
                raise StateError(f"{share_id}: no such share")
        return self._share(row)

    def receipt_sent(self, share_id: str, receipt: str) -> None:
        with self.transaction("share.receipt_sent", {"share_id": share_id, "receipt": receipt}) as db:
            db.execute("UPDATE shares SET receipt_sent=1 WHERE share_id=? AND receipt=?", (share_id, receipt))

    def _share(self, row: sqlite3.Row) -> Share:
        op, key = self._cipher.open, row["share_id"]
        return Share(
            share_id=key, state=row["state"], size=row["size"], manifest_size=row["manifest_size"],
            received_at=row["received_at"], updated_at=row["updated_at"], reason=row["reason"],
            detail=op("shares.detail", key, row["detail"]), patient_number=row["patient_number"],
            fingerprint=row["fingerprint"], claimed_fingerprint=row["claimed_fingerprint"],
            sha256=row["sha256"], file_type=row["file_type"],
            manifest=json.loads(op("shares.manifest", key, row["manifest"]) or "{}"),
            handover=json.loads(op("shares.handover", key, row["handover"]) or "{}"),
            receipt=row["receipt"], receipt_sent=bool(row["receipt_sent"]), attempts=row["attempts"],
        )

    def get_share(self, share_id: str) -> Share | None:
        with self._lock:
            row = self._db.execute("SELECT * FROM shares WHERE share_id=?", (share_id,)).fetchone()
        return None if row is None else self._share(row)

    def list_shares(self, states: Iterable[str] | None = None) -> list[Share]:
        """Shares, oldest first (all, or those in ``states``)."""
        with self._lock:
            if states is None:
                rows = self._db.execute("SELECT * FROM shares ORDER BY received_at, share_id").fetchall()
            else:
                wanted = [str(s) for s in states]
                rows = self._db.execute(
                    f"SELECT * FROM shares WHERE state IN ({','.join('?' * len(wanted))}) "  # noqa: S608
                    "ORDER BY received_at, share_id", wanted,
                ).fetchall()
        return [self._share(r) for r in rows]

    def page_shares(
        self, order: Order = SHARES_BY_URGENCY, *, states: Iterable[str] | None = None, since: str | None = None,
        search: str = "", after: SortKey | None = None, keys: Iterable[str] | None = None, limit: int = 100,
    ) -> list[tuple[SortKey, Share]]:
        """Shares in ``order`` (by default those needing staff first, then newest), paged and
        filtered like :meth:`page_requests`; ``search`` is the start of the share id or of
        the patient number of a verified (or released) share."""
        where, params = _filters(("state", states), ("received_at", since), ("share_id", keys))
        if search:
            low, high = _prefix_range(search.strip())
            where.append("(share_id >= ? AND share_id < ? OR patient_number >= ? AND patient_number < ?)")
            params += [low.lower(), high.lower(), low, high]
        rows = self._page("shares", order, where, params, after, limit)
        return [(_sort_key(r, order), self._share(r)) for r in rows]

    def count_shares(self, states: Iterable[str] | None = None, since: str | None = None) -> int:
        where, params = _filters(("state", states), ("received_at", since))
        return self._count("shares", where, params)

    def share_counts(self) -> dict[str, int]:
        """How many shares are in each state (the index on state: no row is read)."""
        with self._lock:
            rows = self._db.execute("SELECT state, COUNT(*) FROM shares GROUP BY state").fetchall()
        return {str(r[0]): int(r[1]) for r in rows}

    def receipts_due(self) -> list[Share]:
        """Shares whose receipt the platform has not taken yet (queued until it does)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT * FROM shares WHERE receipt IS NOT NULL AND receipt_sent=0 ORDER BY updated_at"
            ).fetchall()
        return [self._share(r) for r in rows]

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
