"""Schema migrations of the store's database.

A practice keeps its database for years while the client is updated under it, so the
schema has a version (``meta.schema_version``, the highest step taken) and the steps
taken (``meta.schema_steps``); every step the database has not taken runs, in order of
its number, when the store opens:

- version 1 is the schema the first releases created; a new database starts there
  and takes the same steps as an old one, so there is one way to every version;
- each step runs in one transaction together with the new version number: a crash
  leaves the database at the last complete version, and the next start resumes;
- before the first step, a copy of the database is written next to it
  (``<name>.v<old version>.bak``, via SQLite's backup API, so the copy is consistent
  even in WAL mode): an update that goes wrong can be undone by the IT admin;
- a database newer than the code (an older client started after an update), or one
  that took a step this code does not know, is refused with a clear message rather than
  written with an old idea of the schema;
- step numbers may have gaps while branches are merged (the practice service's step 8
  after the shares' 9): a database that took 9 before its code knew 8 takes 8 when it
  arrives, because the runner asks which steps were taken, not only the highest. Steps
  that can arrive out of order touch tables of their own (8: workstations, commands; 9:
  shares), so each is still correct after the other. Databases of clients before
  ``schema_steps`` was kept took their steps without gaps: every step up to their version.

A step is a function of the open connection (a *keyed* step also gets the field
cipher, to re-seal personal fields). It MUST NOT commit itself and MUST be written
against the schema of its own version, never against today's code: the models may
have moved on since.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import cast

from practice_client.core.errors import StateError
from practice_client.core.fieldcrypt import FieldCipher
from practice_client.core.text import Text

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
KeyedStep = Callable[[sqlite3.Connection, FieldCipher], None]

# Version 2: tus uploads at the URLs the server names. ``uploads`` holds each document
# part's upload URL, stored before the first byte is sent; ``terminations`` the URLs of
# abandoned uploads until their DELETE succeeded (a crash in between still ends in one).
_V2_UPLOADS = """
CREATE TABLE uploads (
    document_id TEXT NOT NULL REFERENCES documents(document_id),
    part TEXT NOT NULL,
    url TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (document_id, part)
);
CREATE TABLE terminations (
    url TEXT PRIMARY KEY,
    document_id TEXT NOT NULL,
    part TEXT NOT NULL,
    reason TEXT NOT NULL,
    since TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX terminations_by_document ON terminations(document_id);
"""


@dataclass(frozen=True)
class Migration:
    """One step: from ``version - 1`` to ``version``; ``keyed`` steps take the cipher too."""

    version: int
    what: str
    apply: Step | KeyedStep
    keyed: bool = False

    def run(self, db: sqlite3.Connection, cipher: FieldCipher | None) -> None:
        if not self.keyed:
            cast(Step, self.apply)(db)
        elif cipher is None:
            raise StateError(f"schema step {self.version} ({self.what}) needs the database key")
        else:
            cast(KeyedStep, self.apply)(db, cipher)


def _script(sql: str) -> Step:
    """A step running the statements of ``sql`` one by one (``executescript`` would commit
    the step's transaction; a trigger's inner ';' does not end its statement)."""
    def apply(db: sqlite3.Connection) -> None:
        statement = ""
        for line in sql.splitlines(keepends=True):
            statement += line
            if sqlite3.complete_statement(statement):
                db.execute(statement)
                statement = ""
        if statement.strip():
            raise ValueError(f"incomplete SQL statement in a migration: {statement[:60]!r}")

    return apply


_baseline = _script(_V1)


# The personal fields of version 1, by table: the row's key column and the sealed columns.
_V1_SEALED = {
    "patients": ("patient_number", ("name", "birth_date", "phone")),
    "pins": ("fingerprint", ("name", "birth_date", "phone", "certificate")),
    "messages": ("sha256", ("raw",)),
    "requests": ("message_sha256", ("checks", "summary", "decision_reason")),
    "documents": ("document_id", ("original_name", "source_path", "error", "extra")),
}


def _bind_fields_to_rows(db: sqlite3.Connection, cipher: FieldCipher) -> None:
    """Re-seal every personal field so that it is bound to its row, not only its column
    (see :mod:`practice_client.core.fieldcrypt`). One row at a time: memory stays that of
    the largest field (a 2 MiB message), whatever the size of the database."""
    for table, (key, columns) in _V1_SEALED.items():
        rows = [r[0] for r in db.execute(f"SELECT {key} FROM {table}")]  # noqa: S608 - fixed names
        for row in rows:
            values = db.execute(
                f"SELECT {', '.join(columns)} FROM {table} WHERE {key}=?", (row,)  # noqa: S608
            ).fetchone()
            sealed = [
                None if value is None else
                cipher.seal(f"{table}.{column}", row, cipher.open_v1(f"{table}.{column}", row, value))
                for column, value in zip(columns, values, strict=True)
            ]
            db.execute(
                f"UPDATE {table} SET {', '.join(c + '=?' for c in columns)} WHERE {key}=?",  # noqa: S608
                (*sealed, row),
            )


def _cap_request_lifetimes(db: sqlite3.Connection) -> None:
    """Requests recorded before their lifetime was capped may claim to be valid until 2099:
    none stays open longer than the default cap (90 days) after it arrived."""
    db.execute(
        "UPDATE requests SET expires_at = strftime('%Y-%m-%dT%H:%M:%SZ', received_at, '+90 days') "
        "WHERE julianday(received_at) IS NOT NULL AND (expires_at IS NULL "
        "OR julianday(expires_at) IS NULL OR julianday(expires_at) > julianday(received_at, '+90 days'))"
    )


def _retention(db: sqlite3.Connection) -> None:
    """Retention needs to find, without reading every row, the documents whose original is
    still kept (parked in processed/ or failed/, or sealed in the spool for a retry) and
    the raw request messages still kept. Documents finished before this step count as
    parked when they finished; a message whose raw bytes are removed gets processed = 2."""
    db.execute("ALTER TABLE documents ADD COLUMN parked_at TEXT")
    db.execute("UPDATE documents SET parked_at = COALESCE(delivered_at, updated_at) "
               "WHERE state IN ('delivered', 'failed')")
    db.execute("CREATE INDEX documents_parked ON documents(state, parked_at) WHERE parked_at IS NOT NULL")
    db.execute("CREATE INDEX messages_kept ON messages(received_at) WHERE processed = 1")


def _accepted_fingerprint(db: sqlite3.Connection) -> None:
    """Version 6: the key a document goes to is the one that signed the accepted request,
    recorded at accept. Requests accepted before were verified against their own key."""
    db.execute("ALTER TABLE requests ADD COLUMN accepted_fingerprint TEXT")
    db.execute(
        "UPDATE requests SET accepted_fingerprint = patient_fingerprint WHERE status = 'accepted'"
    )


# The stamp a changed row gets: the seq of the audit entry its transaction writes (the
# store indexes that entry after the change, in the same transaction).
STAMP = "(SELECT IFNULL(MAX(seq), 0) + 1 FROM audit_index)"

_V7 = """
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
    WHEN 'failed' THEN 0 WHEN 'held' THEN 1 WHEN 'unassigned' THEN 1 WHEN 'uploading' THEN 2 WHEN 'encrypted' THEN 3
    WHEN 'matched' THEN 4 WHEN 'detected' THEN 5 WHEN 'delivered' THEN 6 ELSE 9 END) VIRTUAL;
CREATE INDEX patients_changed ON patients(change_seq);
CREATE INDEX pins_changed ON pins(change_seq);
CREATE INDEX requests_changed ON requests(change_seq);
CREATE INDEX documents_changed ON documents(change_seq);
CREATE INDEX requests_listed ON requests(list_rank, received_at DESC, message_sha256);
CREATE INDEX requests_newest ON requests(received_at DESC, message_sha256);
CREATE INDEX requests_by_status ON requests(status, verdict);
CREATE INDEX requests_open ON requests(status, expires_at);
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
    """Version 7: what lets lists page and refresh incrementally at any size.

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
    _script(_V7.replace("@STAMP@", STAMP))(db)
    for table in ("patients", "pins", "requests", "documents"):
        _script(_STAMPING.replace("@TABLE@", table).replace("@STAMP@", STAMP))(db)


# Version 8: the practice service. ``workstations``: each paired workstation, its role and
# the SHA-256 of its credential (the credential itself stays in the workstation's keyring);
# ``commands``: the idempotency key of every staff command the service applied or refused,
# written in the same transaction as the command's first change, with its result.
_V8_SERVICE = """
CREATE TABLE workstations (
    workstation_id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    role TEXT NOT NULL,
    credential_sha256 TEXT NOT NULL,
    paired_at TEXT NOT NULL,
    revoked_at TEXT
);
CREATE TABLE commands (
    idempotency_key TEXT PRIMARY KEY,
    workstation_id TEXT NOT NULL,
    command TEXT NOT NULL,
    request_sha256 TEXT NOT NULL,
    applied_at TEXT NOT NULL,
    outcome TEXT NOT NULL,
    result TEXT
);
"""


# Version 9: documents patients share with the practice (practice_client/shares/). A row
# exists as soon as the platform lists the share, before a byte is downloaded; ``state``
# follows the machine of shares/states.py; ``reason`` is a code (why a share waits or is
# quarantined), ``detail`` its words; ``manifest`` (file name, type, date) and ``handover``
# (the files placed in the PMS import folder) are sealed. The listing's cursor is
# ``meta.shares_cursor``, written in the transaction that adds the rows it covers.
# ``change_seq`` and ``list_rank`` as for the lists of version 7.
_V9_SHARES = """
CREATE TABLE shares (
    share_id TEXT PRIMARY KEY,
    state TEXT NOT NULL,
    size INTEGER NOT NULL,
    manifest_size INTEGER NOT NULL,
    received_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    reason TEXT,
    detail BLOB,
    patient_number TEXT,
    fingerprint TEXT,
    claimed_fingerprint TEXT,
    sha256 TEXT,
    file_type TEXT,
    manifest BLOB,
    handover BLOB,
    receipt TEXT,
    receipt_sent INTEGER NOT NULL DEFAULT 0,
    attempts INTEGER NOT NULL DEFAULT 0,
    change_seq INTEGER NOT NULL DEFAULT 0,
    list_rank INTEGER GENERATED ALWAYS AS (CASE state
        WHEN 'quarantined' THEN 0 WHEN 'waiting' THEN 1 WHEN 'received' THEN 2 WHEN 'downloaded' THEN 2
        WHEN 'verified' THEN 2 WHEN 'clean' THEN 2 WHEN 'handing_over' THEN 2 WHEN 'handed_over' THEN 3
        WHEN 'discarded' THEN 4 ELSE 9 END) VIRTUAL
);
CREATE INDEX shares_by_state ON shares(state);
CREATE INDEX shares_receipts_due ON shares(receipt_sent) WHERE receipt IS NOT NULL AND receipt_sent = 0;
CREATE INDEX shares_changed ON shares(change_seq);
CREATE INDEX shares_listed ON shares(list_rank, received_at DESC, share_id);
CREATE INDEX shares_newest ON shares(received_at DESC, share_id DESC);
CREATE INDEX shares_by_patient ON shares(patient_number);
CREATE TRIGGER patients_stamp_shares AFTER UPDATE OF change_seq ON patients BEGIN
    UPDATE shares SET change_seq = NEW.change_seq
        WHERE patient_number = NEW.patient_number AND change_seq IS NOT NEW.change_seq;
END;
CREATE TRIGGER patients_gone_from_shares AFTER DELETE ON patients BEGIN
    UPDATE shares SET change_seq = @STAMP@ WHERE patient_number = OLD.patient_number;
END;
CREATE TRIGGER shares_gone AFTER DELETE ON shares BEGIN
    INSERT INTO removed(kind, key, change_seq) VALUES ('share', OLD.share_id, @STAMP@);
END;
"""


def _shares(db: sqlite3.Connection) -> None:
    """Version 9: documents patients share, stamped like the lists of version 7 - a share's
    row by its own changes and by changes of its patient's PMS record (which the Eingang
    page shows), its order as an indexed column (quarantined and waiting first)."""
    _script(_V9_SHARES.replace("@STAMP@", STAMP))(db)
    _script(_STAMPING.replace("@TABLE@", "shares").replace("@STAMP@", STAMP))(db)


BIRTH_COLUMN = "patients.birth_date"


def birth_day(birth_date: str) -> str:
    """A birth date written the one ISO way (``1990-03-03``); a value that is no date, as it stands."""
    text = birth_date.strip()
    try:
        return date.fromisoformat(text).isoformat()
    except ValueError:
        return text


def birth_key(cipher: FieldCipher, birth_date: str) -> bytes:
    """The blind index of a patient's birth date (``patients.birth_key``), of its
    :func:`birth_day`: every upsert and step 10 compute it here, so a lookup finds the rows
    of either."""
    return cipher.blind(BIRTH_COLUMN, birth_day(birth_date))


def _birth_keys(db: sqlite3.Connection, cipher: FieldCipher) -> None:
    """Version 10: the patients born on one day are found through an index (matching a
    document asks for a patient's twins and namesakes), not by opening every row: the
    blind index of the birth date (:func:`birth_key`), filled for the rows there are.

    Idempotent (a row with its key is left alone). Filling the key is no change staff see:
    the stamping triggers on ``patients`` are lifted for the step and put back exactly as
    they were, so no list refreshes every patient and their requests for it."""
    if "birth_key" not in {row[1] for row in db.execute("PRAGMA table_info(patients)")}:
        db.execute("ALTER TABLE patients ADD COLUMN birth_key BLOB")
    db.execute("CREATE INDEX IF NOT EXISTS patients_born ON patients(birth_key)")
    triggers = db.execute(
        "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'patients'").fetchall()
    for name, _sql in triggers:
        db.execute(f'DROP TRIGGER "{name}"')
    rows = db.execute("SELECT patient_number, birth_date FROM patients WHERE birth_key IS NULL").fetchall()
    for number, sealed in rows:
        born = cipher.open(BIRTH_COLUMN, number, sealed) or ""
        db.execute("UPDATE patients SET birth_key = ? WHERE patient_number = ?", (birth_key(cipher, born), number))
    for _name, sql in triggers:
        db.execute(sql)


# Append new steps at the end; never edit or reorder one that has been released.
MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "the schema of the first releases", _baseline),
    Migration(2, "stored tus upload URLs and pending terminations", _script(_V2_UPLOADS)),
    Migration(3, "personal fields bound to their rows", _bind_fields_to_rows, keyed=True),
    Migration(4, "request lifetimes capped", _cap_request_lifetimes),
    Migration(5, "retention of originals and messages", _retention),
    Migration(6, "requests: the fingerprint recorded at accept", _accepted_fingerprint),
    Migration(7, "lists that page and refresh incrementally: audit index, change stamps", _lists_that_scale),
    Migration(8, "the practice service: workstations and idempotent commands", _script(_V8_SERVICE)),
    Migration(9, "documents patients share", _shares),
    Migration(10, "patients found by birth date through a blind index", _birth_keys, keyed=True),
)

SCHEMA_VERSION = MIGRATIONS[-1].version


STEPS_KEY = "schema_steps"


def current_version(db: sqlite3.Connection) -> int:
    """The database's schema version; 0 for a new, empty database."""
    has_meta = db.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name='meta'").fetchone()
    if not has_meta:
        return 0
    row = db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
    # the first releases created 'meta' with the schema and wrote the version after it
    return int(row[0]) if row else 1


def applied_steps(db: sqlite3.Connection) -> set[int]:
    """The step numbers this database has taken (empty for a new database)."""
    version = current_version(db)
    if version == 0:
        return set()
    row = db.execute("SELECT value FROM meta WHERE key=?", (STEPS_KEY,)).fetchone()
    if row is None:  # kept since the shares' step: before, steps were taken without gaps
        return set(range(1, version + 1))
    return {int(step) for step in str(row[0]).split(",") if step}


def _record_step(db: sqlite3.Connection, taken: set[int]) -> None:
    db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES ('schema_version', ?)", (str(max(taken)),))
    db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)",
               (STEPS_KEY, ",".join(str(step) for step in sorted(taken))))


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
    db: sqlite3.Connection, database: Path, steps: Sequence[Migration] = MIGRATIONS,
    cipher: FieldCipher | None = None,
) -> tuple[int, int]:
    """Bring the database to the newest version of ``steps``; returns (from, to).

    ``db`` must be in autocommit mode (``isolation_level=None``); each step is its own
    ``BEGIN IMMEDIATE`` transaction, so a second process opening the store meanwhile
    waits instead of seeing half a step."""
    known = {step.version for step in steps}
    target = max(known)
    start = current_version(db)
    unknown = applied_steps(db) - known
    if unknown:
        raise StateError(Text(
            f"{database}: die Datenbank hat Schema-Version {start} (Schritte {_numbers(unknown)} sind hier "
            f"unbekannt), dieses Programm kennt bis {target}: ein neuerer Practice Client hat sie geschrieben; "
            "installieren Sie diese Version wieder",
            f"{database}: the database has schema version {start} (steps {_numbers(unknown)} unknown here), "
            f"this program knows up to {target}: it was written by a newer Practice Client; "
            "install that version again",
        ))
    missing = [step for step in sorted(steps, key=lambda s: s.version) if step.version not in applied_steps(db)]
    if not missing:
        return start, target
    if start > 0:
        backup(db, database, start)
    for step in missing:
        db.execute("BEGIN IMMEDIATE")
        try:
            taken = applied_steps(db)
            if step.version in taken:  # another process took this step first
                db.execute("ROLLBACK")
                continue
            step.run(db, cipher)
            _record_step(db, taken | {step.version})
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise
    return start, target


def _numbers(versions: set[int]) -> str:
    return ", ".join(str(v) for v in sorted(versions))
