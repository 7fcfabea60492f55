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


def _baseline(db: sqlite3.Connection) -> None:
    for statement in _V1.split(";"):
        if statement.strip():
            db.execute(statement)


def _accepted_fingerprint(db: sqlite3.Connection) -> None:
    """Version 2: the key a document goes to is the one that signed the accepted request,
    recorded at accept. Requests accepted before were verified against their own key."""
    db.execute("ALTER TABLE requests ADD COLUMN accepted_fingerprint TEXT")
    db.execute(
        "UPDATE requests SET accepted_fingerprint = patient_fingerprint WHERE status = 'accepted'"
    )


# Append new steps at the end; never edit or reorder one that has been released.
MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "the schema of the first releases", _baseline),
    Migration(2, "requests: the fingerprint recorded at accept", _accepted_fingerprint),
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
