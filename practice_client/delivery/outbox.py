"""The outbox: one row per document, created before any work on the file starts.

A document's life is ``detected -> matched -> encrypted -> uploading -> delivered``
(or ``unassigned`` for staff, ``held`` for staff when the patient's key changed since
the request was accepted, or ``failed`` with a reason); every step is one
:meth:`Store.transition` (atomic, audited). The document id is a random uuid4
chosen here; the platform treats it as the idempotency key of the upload.

Where the original file is, is always derivable from the row, so a crash at any
point resumes without losing or duplicating anything:

- ``detected``: in the export folder (``source_path``) or already in the spool
  (``spool/<id>/original``) - :func:`resume` finishes the move;
- ``unassigned`` ... ``uploading``: in the spool;
- ``delivered`` / ``failed``: on its way to ``processed/`` / ``failed/`` (the target is
  recorded in the transition, then the file is moved): :func:`settle` completes it.

Files given to ``send`` (or the GUI's "add files") are *copied* into the spool;
the user's file stays where it is, and the spool copy is removed when done.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import shutil
import stat
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from practice_client.core.atomic import atomic_write, fsync_dir
from practice_client.core.audit import now_iso
from practice_client.core.config import Config
from practice_client.core.errors import InputError, PracticeClientError, StateError
from practice_client.core.files import open_regular
from practice_client.core.identity import IdentityIndex, PatientIdentity
from practice_client.core.models import Document, DocumentState, Pin, RequestRecord
from practice_client.core.patients import parse_birth_date
from practice_client.crypto.gpg import group_fingerprint, normalize_fingerprint
from practice_client.delivery import matching, sidecar
from practice_client.delivery.answer import write_answer
from practice_client.delivery.names import display_name, free_path, safe_name
from practice_client.delivery.sidecar import read_sidecar

if TYPE_CHECKING:
    from practice_client.context import Context

log = logging.getLogger(__name__)

ORIGINAL = "original"
SIDECAR = "sidecar.gdt"
CIPHERTEXT = "document.pgp"
MANIFEST = "manifest.pgp"
PROCESSED = "processed"
FAILED = "failed"

ORIGIN_EXPORT = "export"
ORIGIN_SEND = "send"

COPY_CHUNK = 1024 * 1024


def spool_of(ctx: Context, document_id: str) -> Path:
    return ctx.home.spool / document_id


def export_root(ctx: Context) -> Path | None:
    return Path(os.path.abspath(ctx.config.export_dir)) if ctx.config.export_dir else None


# -- checks on entries -----------------------------------------------------------------


def refusal(st: os.stat_result) -> str | None:
    """Why an entry is not a document we may read, or ``None`` for a plain file."""
    mode = st.st_mode
    if stat.S_ISLNK(mode):
        return "symbolische Verknüpfung, nicht gefolgt / symbolic link, not followed"
    if stat.S_ISFIFO(mode):
        return "benannte Pipe (FIFO) / named pipe (FIFO)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "Gerätedatei / device file"
    if stat.S_ISSOCK(mode):
        return "Socket / socket"
    if stat.S_ISDIR(mode):
        return "Ordner an dieser Stelle / a folder where a file was expected"
    if not stat.S_ISREG(mode):
        return "keine normale Datei / not a regular file"
    if st.st_nlink > 1:
        return "harte Verknüpfung (mehrere Namen) / hard link (several names)"
    if st.st_size == 0:
        return "leere Datei (0 Byte) / empty file (0 bytes)"
    return None


def _copy_fsync(source: Path, target: Path) -> None:
    """Copy a regular file (never through a link), fsync it, and only then give it its
    name: a half-copied file is never visible. Nothing is left behind on failure."""
    source_handle = open_regular(source)
    partial = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.copy")
    try:
        with source_handle as src, open(partial, "xb") as dst:
            os.chmod(partial, 0o600)
            shutil.copyfileobj(src, dst, COPY_CHUNK)
            dst.flush()
            os.fsync(dst.fileno())
        if os.path.lexists(target):
            raise FileExistsError(errno.EEXIST, "target exists", str(target))
        os.replace(partial, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            partial.unlink()
        raise
    fsync_dir(target.parent)


def _move(source: Path, target: Path) -> None:
    """Atomic rename on one file system; otherwise copy + fsync, then remove the source."""
    try:
        os.rename(source, target)
    except OSError as exc:
        if exc.errno != errno.EXDEV:
            raise
        _copy_fsync(source, target)
        os.unlink(source)
    fsync_dir(target.parent)


def _take_entry(source: Path, target: Path) -> None:
    """Move out of the watched export folder by link + unlink where possible.

    A rename out of a watched tree is an inotify ``IN_MOVED_FROM`` without a partner,
    which watchdog holds back for half a second while it waits for one - delaying
    every later event of the folder. Link + unlink reports a plain delete instead.
    A crash in between leaves two names of one file; :func:`resume` removes the
    export folder's one."""
    try:
        os.link(source, target, follow_symlinks=False)
    except OSError as exc:
        if exc.errno not in (errno.EXDEV, errno.EPERM, errno.EMLINK, errno.ENOTSUP, errno.EOPNOTSUPP):
            raise
        _move(source, target)
        return
    os.unlink(source)
    fsync_dir(target.parent)
    fsync_dir(source.parent)


def _mkdir_private(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    if os.name == "posix":
        os.chmod(folder, 0o700)


# -- detection ---------------------------------------------------------------------------


def ingest(ctx: Context, path: Path) -> Document:
    """A complete entry in the export folder becomes an outbox row, then moves to the spool.

    Called by the watcher, one entry at a time; the entry is gone from the export
    folder when this returns (spool or ``failed/``)."""
    export = export_root(ctx)
    parts = path.relative_to(export).parts if export else (path.name,)
    folder = parts[0] if len(parts) > 1 else None
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        raise InputError(path, "Datei verschwunden / file vanished") from None
    doc = _new_row(ctx, path, st, {"origin": ORIGIN_EXPORT, "folder": folder})
    return _take(ctx, doc, path)


def add_files(ctx: Context, files: list[Path], request_id: str) -> list[Document]:
    """``send FILE... --request ID`` and the GUI: copy files into the outbox for one
    accepted request. Every file and the request are checked before anything is written."""
    record = open_request(ctx, request_id)
    checked: list[tuple[Path, os.stat_result]] = []
    for file in files:
        try:
            st = os.lstat(file)
        except OSError as exc:
            raise InputError(file, f"cannot read: {exc.strerror}") from None
        reason = refusal(st)
        if reason is not None:
            raise InputError(file, reason)
        checked.append((file, st))
    documents = []
    for file, st in checked:
        doc = _new_row(ctx, Path(os.path.abspath(file)), st, {"origin": ORIGIN_SEND})
        spool = spool_of(ctx, doc.document_id)
        try:
            _mkdir_private(spool)
            _copy_fsync(file, spool / ORIGINAL)
        except OSError as exc:
            documents.append(fail(ctx, doc, f"Kopieren ins Spool fehlgeschlagen / copy to spool failed: "
                                            f"{exc.strerror}"))
            continue
        documents.append(ctx.store.transition(
            doc.document_id, DocumentState.MATCHED, request_id=record.request_id,
            match_method=ORIGIN_SEND, source_path=str(spool / ORIGINAL),
        ))
    return documents


def _new_row(ctx: Context, path: Path, st: os.stat_result, extra: dict[str, object]) -> Document:
    now = now_iso()
    extra = {**extra, "modified_at": datetime.fromtimestamp(st.st_mtime, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")}
    doc = Document(
        document_id=str(uuid.uuid4()), state=DocumentState.DETECTED,
        original_name=safe_name(path.name), source_path=display_name(str(path)),
        size=st.st_size if stat.S_ISREG(st.st_mode) else 0, sha256="", created_at=now,
        updated_at=now, extra=extra,
    )
    ctx.store.add_document(doc)
    return doc


def _take(ctx: Context, doc: Document, path: Path) -> Document:
    """Move the entry from the export folder into the spool (or refuse it), then match."""
    spool = spool_of(ctx, doc.document_id)
    try:
        reason = refusal(os.lstat(path))
    except FileNotFoundError:
        return fail(ctx, doc, "Datei verschwunden / file vanished")
    if reason is not None:
        return refuse(ctx, doc, path, reason)
    try:
        _mkdir_private(spool)
        _take_entry(path, spool / ORIGINAL)
    except OSError as exc:
        why = ("Spool voll, Original unverändert / spool disk full, original untouched"
               if exc.errno == errno.ENOSPC else
               f"Übernahme ins Spool fehlgeschlagen / could not move to the spool: {exc.strerror}")
        return refuse(ctx, doc, path, why)
    return _after_take(ctx, doc, _take_records(path, spool))


def _take_records(document: Path, spool: Path) -> str | None:
    """The document's GDT record (sidecar or 6305) travels into the spool with it; several
    are a conflict: they stay in the export folder, and the reason is returned."""
    records = sidecar.records_for(document)
    if len(records) > 1:
        return sidecar.conflict(records)
    with contextlib.suppress(OSError):
        if records and not os.path.lexists(spool / SIDECAR):
            _take_entry(records[0], spool / SIDECAR)
    return None


def _after_take(ctx: Context, doc: Document, sidecar_conflict: str | None = None) -> Document:
    """The entry is ours now: check again what it is (it may have been swapped), then match."""
    original = spool_of(ctx, doc.document_id) / ORIGINAL
    st = os.lstat(original)
    reason = refusal(st)
    if reason is not None:
        return fail(ctx, doc, reason)
    if sidecar_conflict:
        doc.extra = {**doc.extra, "sidecar_conflict": sidecar_conflict}
    return match(ctx, doc)


def identity_index(ctx: Context) -> IdentityIndex:
    """PMS records and pins, read once (two queries), for many requests or documents."""
    return IdentityIndex.from_store(ctx.store)


def match_data(ctx: Context) -> matching.MatchData:
    return matching.MatchData(
        requests=ctx.store.list_requests(), identities=identity_index(ctx), now=datetime.now(UTC),
    )


def wants_record(ctx: Context, path: Path) -> bool:
    """Would this export-folder file go unassigned without a GDT record? True unless it
    lies in a request's folder or its name alone identifies a PMS patient (number and
    birth date, or the number where the policy allows that): then the watcher waits a
    little for a record that arrives after the document."""
    export = export_root(ctx)
    try:
        parts = path.relative_to(export).parts if export else (path.name,)
    except ValueError:
        parts = (path.name,)
    if len(parts) > 1 and matching.looks_like_request_id(parts[0]):
        return False
    ids = matching.identifiers_from_name(safe_name(path.name), ctx.config.filename_pattern)
    if ids is None or ctx.store.get_patient(ids.patient_number) is None:
        return True
    return ids.birth_date is None and not ctx.config.number_only_matching


def name_rule(config: Config) -> matching.NameRule:
    return matching.NameRule(config.filename_pattern, config.number_only_matching)


def _find(ctx: Context, doc: Document, data: matching.MatchData) -> matching.Match:
    """The matching rules applied to a document in the spool (its GDT record beside it)."""
    spool = spool_of(ctx, doc.document_id)
    fields: dict[str, str] | None = None
    if (spool / SIDECAR).exists():
        try:
            fields = read_sidecar(spool / SIDECAR)
        except InputError as exc:
            return matching.Match(None, None, f"GDT-Datei unlesbar / GDT sidecar unreadable: {exc.problem}")
    folder, conflict = doc.extra.get("folder"), doc.extra.get("sidecar_conflict")
    return matching.match_file(
        folder if isinstance(folder, str) else None, doc.original_name, fields, name_rule(ctx.config), data,
        conflict if isinstance(conflict, str) else None,
    )


def match(ctx: Context, doc: Document) -> Document:
    """Apply the matching rules; ``matched`` or ``unassigned`` (with the reason for staff)."""
    spool = spool_of(ctx, doc.document_id)
    found = _find(ctx, doc, match_data(ctx))
    size = os.lstat(spool / ORIGINAL).st_size
    if found.matched:
        return ctx.store.transition(
            doc.document_id, DocumentState.MATCHED, request_id=found.request_id,
            match_method=found.method, source_path=str(spool / ORIGINAL), size=size, error=None,
            extra=doc.extra,
        )
    return ctx.store.transition(
        doc.document_id, DocumentState.UNASSIGNED, error=found.reason,
        source_path=str(spool / ORIGINAL), size=size, extra=doc.extra,
    )


def rematch(ctx: Context) -> list[Document]:
    """Unassigned documents whose rules now give exactly one request (staff accepted the
    request after the PMS exported the file) move on; the others stay with staff."""
    moved = []
    data = match_data(ctx)
    for doc in ctx.store.list_documents([DocumentState.UNASSIGNED]):
        found = _find(ctx, doc, data)
        if found.matched:
            with contextlib.suppress(StateError):  # staff were quicker (assigned it meanwhile)
                moved.append(ctx.store.transition(doc.document_id, DocumentState.MATCHED,
                                                  request_id=found.request_id, match_method=found.method,
                                                  error=None))
    return moved


# -- staff actions -------------------------------------------------------------------------


def open_request(ctx: Context, request_id: str) -> RequestRecord:
    """The request a document may go to: accepted and not expired."""
    record = ctx.store.get_request(request_id)
    if record is None:
        raise StateError(f"{request_id}: keine solche Anfrage / no such request")
    if not matching.is_open(record, datetime.now(UTC)):
        raise StateError(
            f"{request_id}: Anfrage ist nicht angenommen oder abgelaufen / "
            f"request is not accepted or has expired ({record.status})"
        )
    return record


@dataclass(frozen=True)
class AssignCandidate:
    """A request a document may be assigned to, named by the PMS record."""

    request_id: str
    identity: PatientIdentity
    documents: tuple[str, ...]
    period: tuple[str, str]
    expires_at: str | None

    def to_json(self) -> dict[str, Any]:
        return {"request_id": self.request_id, "patient": self.identity.to_json(),
                "documents": list(self.documents), "period": list(self.period), "expires_at": self.expires_at}


def assign_candidates(ctx: Context) -> list[AssignCandidate]:
    """The only requests staff are offered: accepted, not expired, and of a patient in
    the PMS master data (whose birth date staff confirm), in the PMS's name order."""
    now = datetime.now(UTC)
    index = identity_index(ctx)
    found = []
    for record in ctx.store.list_requests():
        identity = index.of_request(record)
        if not matching.is_open(record, now) or identity.pms is None:
            continue
        period = record.summary.get("period")
        period = period if isinstance(period, dict) else {}
        documents = record.summary.get("documents")
        found.append(AssignCandidate(
            record.request_id, identity,
            tuple(str(d) for d in documents) if isinstance(documents, list) else (),
            (str(period.get("from", "")), str(period.get("to", ""))), record.expires_at,
        ))
    return sorted(found, key=lambda c: (c.identity.pms.name.casefold() if c.identity.pms else "",
                                        c.identity.patient_number or "", c.request_id))


def assign(ctx: Context, document_id: str, request_id: str, birth_date: str) -> Document:
    """Staff assign an unassigned document to an accepted request (GUI, CLI), after typing
    the patient's birth date from the document: it must be the PMS record's - a second
    identifier that a slip in a list of similar names cannot pass."""
    doc = _get(ctx, document_id)
    if doc.state is not DocumentState.UNASSIGNED:
        raise StateError(f"{document_id}: nur nicht zugeordnete Dokumente / only unassigned documents "
                         f"can be assigned (this one is {doc.state})")
    record = open_request(ctx, request_id)
    patient = ctx.store.get_patient(record.patient_number) if record.patient_number else None
    if patient is None:
        raise StateError(f"{request_id}: Patient nicht in den Stammdaten, Geburtsdatum nicht prüfbar / "
                         "the patient is not in the PMS master data: the birth date cannot be confirmed")
    typed = parse_birth_date(birth_date.strip())
    if typed is None:
        raise StateError(f"{birth_date.strip() or '-'}: kein gültiges Geburtsdatum (TT.MM.JJJJ) / "
                         "not a valid birth date (DD.MM.YYYY)")
    if typed != patient.birth_date:
        raise StateError(f"{request_id}: das Geburtsdatum passt nicht zu Patient {patient.patient_number} "
                         "laut PVS - bitte den Patienten prüfen / the birth date does not match the PMS "
                         f"record of patient {patient.patient_number} - check the patient")
    return ctx.store.transition(
        document_id, DocumentState.MATCHED, request_id=record.request_id,
        match_method=matching.STAFF, error=None, audit={"birth_date_confirmed": True},
    )


# -- the key a document goes to ---------------------------------------------------------------


class KeyChanged(PracticeClientError):
    """The patient's pinned key is not the one that signed the accepted request (re-pinned
    since): the document waits for staff instead of going to either key."""

    def __init__(self, accepted: str, current: str | None) -> None:
        self.accepted, self.current = accepted, current
        new = group_fingerprint(current) if current else "keiner / none"
        super().__init__(
            f"Schlüssel des Patienten seit Annahme der Anfrage geändert: angenommen mit "
            f"{group_fingerprint(accepted)}, jetzt hinterlegt {new} - bitte entscheiden / "
            f"the patient's key changed since the request was accepted: accepted with "
            f"{group_fingerprint(accepted)}, pinned now {new} - staff must decide"
        )


def recipient_pin(ctx: Context, doc: Document, record: RequestRecord) -> Pin:
    """The pin to encrypt to: the key that signed the accepted request (or the new key
    staff chose for this document), and only while it is that patient's pin."""
    approved = doc.extra.get("recipient_fingerprint")
    expected = (approved if isinstance(approved, str) else None) or record.accepted_fingerprint \
        or record.patient_fingerprint
    current = ctx.store.get_pin_for_patient(record.patient_number) if record.patient_number else None
    if not expected:
        raise StateError(f"{record.request_id}: die Anfrage nennt keinen Schlüssel / the request names no key")
    if current is None or current.fingerprint != expected:
        raise KeyChanged(expected, current.fingerprint if current else None)
    return current


def hold_if_key_changed(ctx: Context, doc: Document) -> Document | None:
    """``held`` (both fingerprints in the row, the reason and the audit entry) when the
    patient was re-pinned since the request was accepted; None when the key is right."""
    record = ctx.store.get_request(doc.request_id or "")
    if record is None:
        return None
    try:
        recipient_pin(ctx, doc, record)
    except KeyChanged as change:
        return hold(ctx, doc, change)
    return None


def hold(ctx: Context, doc: Document, change: KeyChanged) -> Document:
    held = {"accepted_fingerprint": change.accepted, "current_fingerprint": change.current}
    log.info("document %s held: the patient's key changed", doc.document_id)
    return ctx.store.transition(doc.document_id, DocumentState.HELD, error=str(change),
                                extra={**doc.extra, "held": held}, audit=held)


def release(ctx: Context, document_id: str, fingerprint: str) -> Document:
    """Staff decide a held document goes to the patient's new key: ``fingerprint`` must be
    the key pinned now (what staff were shown), else nothing changes."""
    doc = _get(ctx, document_id)
    if doc.state is not DocumentState.HELD:
        raise StateError(f"{document_id}: nur zurückgehaltene Dokumente / only held documents can be "
                         f"released (this one is {doc.state})")
    record = open_request(ctx, doc.request_id or "")
    chosen = normalize_fingerprint(fingerprint)
    current = ctx.store.get_pin_for_patient(record.patient_number) if record.patient_number else None
    if current is None or current.fingerprint != chosen:
        raise StateError(f"{chosen}: das ist nicht der jetzt hinterlegte Schlüssel des Patienten / "
                         "this is not the patient's pinned key now")
    extra = {k: v for k, v in doc.extra.items() if k != "held"}
    return ctx.store.transition(
        document_id, DocumentState.MATCHED, error=None, extra={**extra, "recipient_fingerprint": chosen},
        audit={"decision": "send_to_new_key", "fingerprint": chosen,
               "accepted_fingerprint": record.accepted_fingerprint},
    )


def withhold(ctx: Context, document_id: str) -> Document:
    """Staff decide a held document is not sent: failed, the original to ``failed/``."""
    doc = _get(ctx, document_id)
    if doc.state is not DocumentState.HELD:
        raise StateError(f"{document_id}: nur zurückgehaltene Dokumente / only held documents can be "
                         f"withheld (this one is {doc.state})")
    return fail(ctx, doc, f"Von der Praxis nicht gesendet ({doc.error}) / withheld by staff",
                audit={"decision": "withhold"})


def retry(ctx: Context, document_id: str) -> Document:
    """Try a failed document again: its original comes back from ``failed/`` into the spool."""
    doc = _get(ctx, document_id)
    if doc.state is not DocumentState.FAILED:
        raise StateError(f"{document_id}: nur fehlgeschlagene Dokumente / only failed documents "
                         f"can be retried (this one is {doc.state})")
    spool = spool_of(ctx, document_id)
    original = spool / ORIGINAL
    if not os.path.lexists(original):
        parked = Path(doc.source_path) if doc.source_path else None
        if parked is None or not os.path.lexists(parked):
            raise StateError(f"{document_id}: das Original ist nicht mehr da / the original is gone "
                             f"({doc.source_path or 'no copy kept'})")
        _mkdir_private(spool)
        _take_entry(parked, original)
        with contextlib.suppress(FileNotFoundError):
            Path(f"{parked}.reason.txt").unlink()
        with contextlib.suppress(OSError):
            if os.path.lexists(f"{parked}.gdt"):
                _take_entry(Path(f"{parked}.gdt"), spool / SIDECAR)
    for leftover in (CIPHERTEXT, MANIFEST):
        with contextlib.suppress(FileNotFoundError):
            (spool / leftover).unlink()
    reason = refusal(os.lstat(original))
    if reason is not None:
        settle(ctx, doc)  # back to failed/, the reason still holds
        raise StateError(f"{document_id}: {reason}")
    if doc.request_id:
        with contextlib.suppress(StateError):
            open_request(ctx, doc.request_id)
            return ctx.store.transition(
                document_id, DocumentState.MATCHED, source_path=str(original), error=None,
            )
    return match(ctx, doc)


# -- endings ----------------------------------------------------------------------------------


def _parking(ctx: Context, doc: Document, folder_name: str) -> Path | None:
    """Where the original goes at the end (``processed/`` or ``failed/`` of the export folder)."""
    export = export_root(ctx)
    if doc.extra.get("origin") != ORIGIN_EXPORT or export is None:
        return None
    folder = export / folder_name
    folder.mkdir(parents=True, exist_ok=True)
    return free_path(folder, doc.original_name, doc.document_id[:8])


def refuse(ctx: Context, doc: Document, entry: Path, reason: str) -> Document:
    """An entry we must not read (link, FIFO, device, ...) or could not take: it moves,
    as it is and never followed, from the export folder to ``failed/`` with the reason."""
    target = _parking(ctx, doc, FAILED)
    failed = ctx.store.transition(doc.document_id, DocumentState.FAILED, error=reason,
                                  source_path=str(target) if target else "")
    if target is not None:
        with contextlib.suppress(FileNotFoundError):
            os.rename(entry, target)  # rename moves a link itself, never its target
            _write_reason(target, reason)
    shutil.rmtree(spool_of(ctx, doc.document_id), ignore_errors=True)
    log.info("document %s refused", doc.document_id)
    return failed


def fail(ctx: Context, doc: Document, reason: str, audit: dict[str, Any] | None = None) -> Document:
    """A document that cannot be delivered: ``failed`` with the reason, original to ``failed/``."""
    target = _parking(ctx, doc, FAILED)
    failed = ctx.store.transition(doc.document_id, DocumentState.FAILED, audit, error=reason,
                                  source_path=str(target) if target else "")
    try:
        settle(ctx, failed)
    except OSError as exc:  # the row says where the original belongs; the next start finishes it
        log.error("document %s: could not park the original (errno %s)", doc.document_id, exc.errno)
    log.info("document %s failed", doc.document_id)
    return failed


def delivered(ctx: Context, doc: Document, ciphertext_sha256: str) -> Document:
    """Tell the PMS (the GDT answer, when configured: at least once, so before the receipt
    is recorded), record the receipt, then move the original to ``processed/`` (or remove it)."""
    target = _parking(ctx, doc, PROCESSED) if ctx.config.after_delivery != "remove" else None
    answer = write_answer(ctx, doc, spool_of(ctx, doc.document_id) / SIDECAR, target)
    done = ctx.store.transition(
        doc.document_id, DocumentState.DELIVERED, {"gdt_answer": answer.name} if answer else None,
        delivered_at=now_iso(), ciphertext_sha256=ciphertext_sha256,
        source_path=str(target) if target else "", error=None,
    )
    settle(ctx, done)
    return done


def settle(ctx: Context, doc: Document) -> None:
    """Finish moving the original of a delivered or failed document (idempotent, resumable)."""
    spool = spool_of(ctx, doc.document_id)
    original = spool / ORIGINAL
    target = Path(doc.source_path) if doc.source_path else None
    if os.path.lexists(original):
        if doc.state is DocumentState.DELIVERED and target is not None and os.path.lexists(target):
            # the name was taken meanwhile; a failed one stays put instead: retry finds it by the row
            target = free_path(target.parent, target.name, doc.document_id[:8])
        if target is not None and not os.path.lexists(target):
            target.parent.mkdir(parents=True, exist_ok=True)
            _move(original, target)
            if doc.state is DocumentState.FAILED:
                _write_reason(target, doc.error or "")
            if os.path.lexists(spool / SIDECAR):
                _move(spool / SIDECAR, Path(f"{target}.gdt"))
        elif doc.state is DocumentState.DELIVERED and target is None:
            original.unlink()  # sent from elsewhere, or policy after_delivery = "remove"
        else:
            return  # failed and sent from elsewhere, or no free name: keep it for a retry
    if doc.state is DocumentState.DELIVERED or not os.path.lexists(original):
        shutil.rmtree(spool, ignore_errors=True)


def _write_reason(target: Path, reason: str) -> None:
    atomic_write(Path(f"{target}.reason.txt"), (reason + "\n").encode("utf-8"), 0o644)


# -- start-up -------------------------------------------------------------------------------------


def resume(ctx: Context) -> list[Document]:
    """After a (crashed) run: finish half-done moves; return the rows the pipeline must continue."""
    store = ctx.store
    for doc in store.list_documents([DocumentState.DELIVERED, DocumentState.FAILED]):
        if spool_of(ctx, doc.document_id).exists():
            with contextlib.suppress(OSError):
                settle(ctx, doc)
    for doc in store.list_documents([DocumentState.DETECTED]):
        original = spool_of(ctx, doc.document_id) / ORIGINAL
        try:
            if os.path.lexists(original):
                _drop_second_name(Path(doc.source_path), original)
                _after_take(ctx, doc, _take_records(Path(doc.source_path), original.parent))
            elif os.path.lexists(doc.source_path):
                _take(ctx, doc, Path(doc.source_path))
            else:
                fail(ctx, doc, "Original beim Neustart nicht gefunden / original not found on restart")
        except OSError as exc:
            fail(ctx, doc, f"Wiederaufnahme fehlgeschlagen / resume failed: {exc.strerror}")
    return store.list_documents([DocumentState.MATCHED, DocumentState.ENCRYPTED,
                                 DocumentState.UPLOADING])


def _drop_second_name(source: Path, original: Path) -> None:
    """A crash between link and unlink (:func:`_take_entry`): the export folder's name goes."""
    with contextlib.suppress(OSError):
        st_source, st_original = os.lstat(source), os.lstat(original)
        if (st_source.st_dev, st_source.st_ino) == (st_original.st_dev, st_original.st_ino):
            os.unlink(source)


def _get(ctx: Context, document_id: str) -> Document:
    doc = ctx.store.get_document(document_id)
    if doc is None:
        raise StateError(f"{document_id}: kein solches Dokument / no such document")
    return doc
