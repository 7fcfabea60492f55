"""Schema migrations of the store's database.

A practice keeps its database for years while the client is updated under it, so the
schema has a version (``meta.schema_version``) and every step from the database's
version to the code's runs in order when the store opens:

- version 1 is the schema the first releases created; a new database starts there
  and takes the same steps as an old one, so there is one way to every version;
- each step runs in one transaction together with the new version number: a crash
  leaves the database at the last complete version, and the next start resumes;
- before the first step, a copy of the database is written next to it
  (``<name>.v<old version>.bak``, via SQLite's backup API, so the copy is consistent
  even in WAL mode): an update that goes wrong can be undone by the IT admin;
- a database newer than the code (an older client started after an update) is
  refused with a clear message rather than written with an old idea of the schema.

A step is a function of the open connection. It MUST NOT commit itself and MUST
be written against the schema of its own version, never against today's code:
the models may have moved on since.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from practice_client.core.errors import StateError

_V1 = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS patients (
    patient_number TEXT PRIMARY KEY,
    name BLOB NOT NULL, birth_date BLOB NOT NULL, phone BLOB,
    updated_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS pins (
    fingerprint TEXT PRIMARY KEY,
    patient_number TEXT NOT NULL UNIQUE,
    name BLOB NOT NULL, birth_date BLOB NOT NULL, phone BLOB NOT NULL,
    ident TEXT NOT NULL, issued_at TEXT NOT NULL, pinned_at TEXT NOT NULL,
    certificate BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS messages (
    sha256 TEXT PRIMARY KEY,
    received_at TEXT NOT NULL,
    source TEXT NOT NULL,
    raw BLOB NOT NULL,
    processed INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS requests (
    message_sha256 TEXT PRIMARY KEY REFERENCES messages(sha256),
    request_id TEXT NOT NULL,
    received_at TEXT NOT NULL,
    source TEXT NOT NULL,
    verdict TEXT NOT NULL,
    checks BLOB NOT NULL,
    status TEXT NOT NULL,
    patient_fingerprint TEXT,
    patient_number TEXT,
    summary BLOB NOT NULL,
    expires_at TEXT,
    decided_at TEXT,
    decision_reason BLOB,
    override INTEGER NOT NULL DEFAULT 0,
    decision_sent INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS requests_by_id ON requests(request_id);
CREATE UNIQUE INDEX IF NOT EXISTS one_actionable_request
    ON requests(request_id) WHERE status != 'rejected';
CREATE TABLE IF NOT EXISTS documents (
    document_id TEXT PRIMARY KEY,
    state TEXT NOT NULL,
    original_name BLOB NOT NULL,
    source_path BLOB NOT NULL,
    size INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    request_id TEXT,
    match_method TEXT,
    error BLOB,
    attempts INTEGER NOT NULL DEFAULT 0,
    ciphertext_sha256 TEXT,
    manifest_sha256 TEXT,
    delivered_at TEXT,
    extra BLOB
);
CREATE INDEX IF NOT EXISTS documents_by_state ON documents(state);
"""

Step = Callable[[sqlite3.Connection], None]


@dataclass(frozen=True)
class Migration:
    """One step: from ``version - 1`` to ``version``."""

    version: int
    what: str
    apply: Step


def _script(db: sqlite3.Connection, script: str) -> None:
    """Statements one by one (``executescript`` would commit the step's transaction)."""
    statement = ""
    for line in script.splitlines(keepends=True):
        statement += line
        if sqlite3.complete_statement(statement):  # a trigger's inner ';' does not end it
            db.execute(statement)
            statement = ""
    if statement.strip():
        raise ValueError(f"incomplete SQL statement in a migration: {statement[:60]!r}")


def _baseline(db: sqlite3.Connection) -> None:
    _script(db, _V1)


# The stamp a changed row gets: the seq of the audit entry its transaction writes (the
# store indexes that entry after the change, in the same transaction).
STAMP = "(SELECT IFNULL(MAX(seq), 0) + 1 FROM audit_index)"

_V2 = """
CREATE TABLE audit_index (
    seq INTEGER PRIMARY KEY, offset INTEGER NOT NULL, length INTEGER NOT NULL, event TEXT NOT NULL
);
CREATE INDEX audit_by_event ON audit_index(event, seq);
CREATE TABLE audit_terms (term TEXT NOT NULL, seq INTEGER NOT NULL, PRIMARY KEY (term, seq)) WITHOUT ROWID;
CREATE TABLE removed (kind TEXT NOT NULL, key TEXT NOT NULL, change_seq INTEGER NOT NULL);
CREATE INDEX removed_since ON removed(change_seq);
ALTER TABLE patients ADD COLUMN change_seq INTEGER NOT NULL DEFAULT 0;
ALTER TABLE pins ADD COLUMN change_seq INTEGER NOT NULL DEFAULT 0;
ALTER TABLE requests ADD COLUMN change_seq INTEGER NOT NULL DEFAULT 0;
ALTER TABLE documents ADD COLUMN change_seq INTEGER NOT NULL DEFAULT 0;
ALTER TABLE requests ADD COLUMN list_rank INTEGER GENERATED ALWAYS AS (CASE
    WHEN status = 'open' AND verdict = 'needs_review' THEN 0 WHEN status = 'open' AND verdict = 'verified' THEN 1
    WHEN status = 'open' THEN 2 WHEN status = 'accepted' THEN 3 WHEN status = 'declined' THEN 4
    WHEN status = 'rejected' THEN 5 ELSE 9 END) VIRTUAL;
ALTER TABLE documents ADD COLUMN list_rank INTEGER GENERATED ALWAYS AS (CASE state
    WHEN 'failed' THEN 0 WHEN 'unassigned' THEN 1 WHEN 'uploading' THEN 2 WHEN 'encrypted' THEN 3
    WHEN 'matched' THEN 4 WHEN 'detected' THEN 5 WHEN 'delivered' THEN 6 ELSE 9 END) VIRTUAL;
CREATE INDEX patients_changed ON patients(change_seq);
CREATE INDEX pins_changed ON pins(change_seq);
CREATE INDEX requests_changed ON requests(change_seq);
CREATE INDEX documents_changed ON documents(change_seq);
CREATE INDEX requests_listed ON requests(list_rank, received_at DESC, message_sha256);
CREATE INDEX requests_newest ON requests(received_at DESC, message_sha256);
CREATE INDEX requests_by_status ON requests(status, verdict);
CREATE INDEX requests_by_patient ON requests(patient_number);
CREATE INDEX requests_by_fingerprint ON requests(patient_fingerprint);
CREATE INDEX documents_listed ON documents(list_rank, created_at DESC, document_id);
CREATE INDEX documents_newest ON documents(created_at DESC, document_id);
CREATE INDEX documents_by_request ON documents(request_id);
CREATE TRIGGER patients_stamped AFTER UPDATE OF change_seq ON patients BEGIN
    UPDATE requests SET change_seq = NEW.change_seq
        WHERE patient_number = NEW.patient_number AND change_seq IS NOT NEW.change_seq;
END;
CREATE TRIGGER patients_gone AFTER DELETE ON patients BEGIN
    INSERT INTO removed(kind, key, change_seq) VALUES ('patient', OLD.patient_number, @STAMP@);
    UPDATE requests SET change_seq = @STAMP@ WHERE patient_number = OLD.patient_number;
END;
CREATE TRIGGER pins_stamped AFTER UPDATE OF change_seq ON pins BEGIN
    UPDATE patients SET change_seq = NEW.change_seq
        WHERE patient_number = NEW.patient_number AND change_seq IS NOT NEW.change_seq;
    UPDATE requests SET change_seq = NEW.change_seq
        WHERE patient_fingerprint = NEW.fingerprint AND change_seq IS NOT NEW.change_seq;
END;
CREATE TRIGGER pins_gone AFTER DELETE ON pins BEGIN
    INSERT INTO removed(kind, key, change_seq) VALUES ('patient', OLD.patient_number, @STAMP@);
    UPDATE patients SET change_seq = @STAMP@ WHERE patient_number = OLD.patient_number;
    UPDATE requests SET change_seq = @STAMP@ WHERE patient_fingerprint = OLD.fingerprint;
END;
CREATE TRIGGER requests_stamped AFTER UPDATE OF change_seq ON requests BEGIN
    UPDATE documents SET change_seq = NEW.change_seq
        WHERE request_id = NEW.request_id AND change_seq IS NOT NEW.change_seq;
END;
CREATE TRIGGER requests_gone AFTER DELETE ON requests BEGIN
    INSERT INTO removed(kind, key, change_seq) VALUES ('request', OLD.message_sha256, @STAMP@);
END;
CREATE TRIGGER documents_gone AFTER DELETE ON documents BEGIN
    INSERT INTO removed(kind, key, change_seq) VALUES ('document', OLD.document_id, @STAMP@);
END;
"""

# every shown table: a row written without a stamp gets one (once: the stamp is a change too)
_STAMPING = """
CREATE TRIGGER @TABLE@_new AFTER INSERT ON @TABLE@ WHEN NEW.change_seq = 0 BEGIN
    UPDATE @TABLE@ SET change_seq = @STAMP@ WHERE rowid = NEW.rowid;
END;
CREATE TRIGGER @TABLE@_changed AFTER UPDATE ON @TABLE@ WHEN NEW.change_seq IS OLD.change_seq BEGIN
    UPDATE @TABLE@ SET change_seq = @STAMP@ WHERE rowid = NEW.rowid;
END;
"""


def _lists_that_scale(db: sqlite3.Connection) -> None:
    """Version 2: what lets lists page and refresh incrementally at any size.

    - ``audit_index``/``audit_terms``: where each audit line lies in the file, its event
      and the identifiers it names, so the log is paged and searched without reading
      it (filled on the next open from the file, then with every entry);
    - ``change_seq`` on every row the screens show, stamped by triggers with the seq of
      the audit entry of the transaction that changed it - and passed on to the rows
      that show it (a patient's record to their requests, a request to its documents);
      deleted rows leave their key in ``removed``: "what changed since entry N" is one
      indexed query (a writer that stamps the row itself, see :data:`STAMP`, spares the
      trigger a second write of it);
    - the lists' orders as indexed (virtual) columns, and indexes for filters."""
    _script(db, _V2.replace("@STAMP@", STAMP))
    for table in ("patients", "pins", "requests", "documents"):
        _script(db, _STAMPING.replace("@TABLE@", table).replace("@STAMP@", STAMP))


# Append new steps at the end; never edit or reorder one that has been released.
MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "the schema of the first releases", _baseline),
    Migration(2, "lists that page and refresh incrementally: audit index, change stamps", _lists_that_scale),
)

SCHEMA_VERSION = MIGRATIONS[-1].version


def current_version(db: sqlite3.Connection) -> int:
    """The database's schema version; 0 for a new, empty database."""
    has_meta = db.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name='meta'").fetchone()
    if not has_meta:
        return 0
    row = db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
    # the first releases created 'meta' with the schema and wrote the version after it
    return int(row[0]) if row else 1


def backup(db: sqlite3.Connection, database: Path, version: int) -> Path:
    """A consistent copy of the database before it is migrated (one per old version)."""
    target = database.with_name(f"{database.name}.v{version}.bak")
    partial = target.with_name(target.name + ".partial")
    partial.unlink(missing_ok=True)
    copy = sqlite3.connect(partial)
    try:
        db.backup(copy)
    finally:
        copy.close()
    partial.chmod(0o600)
    partial.replace(target)
    return target


def migrate(
    db: sqlite3.Connection, database: Path, steps: Sequence[Migration] = MIGRATIONS
) -> tuple[int, int]:
    """Bring the database to the newest version of ``steps``; returns (from, to).

    ``db`` must be in autocommit mode (``isolation_level=None``); each step is its own
    ``BEGIN IMMEDIATE`` transaction, so a second process opening the store meanwhile
    waits instead of seeing half a step."""
    target = steps[-1].version
    start = current_version(db)
    if start > target:
        raise StateError(
            f"{database}: the database has schema version {start}, this program knows up to "
            f"{target}: it was written by a newer Practice Client; install that version again"
        )
    if start == target:
        return start, target
    if start > 0:
        backup(db, database, start)
    for step in steps:
        if step.version <= start:
            continue
        db.execute("BEGIN IMMEDIATE")
        try:
            if current_version(db) >= step.version:  # another process took this step first
                db.execute("ROLLBACK")
                continue
            step.apply(db)
            db.execute(
                "INSERT OR REPLACE INTO meta(key, value) VALUES ('schema_version', ?)", (str(step.version),)
            )
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise
    return start, target
