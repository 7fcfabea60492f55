"""The outbox: one row per document, created before any work on the file starts.

A document's life is ``detected -> matched -> encrypted -> uploading -> delivered``
(or ``unassigned`` for staff, ``held`` for staff when the patient's key changed since
the request was accepted, or ``failed`` with a reason); every step is one
:meth:`Store.transition` (atomic, audited). The document id is a random uuid4
chosen here; the uploads carry it in their metadata, and the URLs the platform names
for them are stored with the document (before a byte is sent; see :mod:`.pipeline`).

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
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from practice_client.core.atomic import fsync_dir
from practice_client.core.audit import now_iso
from practice_client.core.config import Config
from practice_client.core.errors import InputError, PracticeClientError, StateError
from practice_client.core.files import NOT_A_FOLDER, Folder, open_regular
from practice_client.core.identity import IdentityIndex, PatientIdentity
from practice_client.core.models import Document, DocumentState, Pin, RequestRecord, RequestStatus
from practice_client.core.patients import parse_birth_date
from practice_client.core.sealedfile import seal_file, unseal_bytes, unseal_file
from practice_client.crypto.gpg import group_fingerprint, normalize_fingerprint
from practice_client.delivery import matching, sidecar
from practice_client.delivery.answer import write_answer
from practice_client.delivery.locks import FileLock
from practice_client.delivery.names import display_name, safe_name, tagged_name
from practice_client.delivery.sidecar import MAX_SIDECAR_BYTES, read_sidecar, sidecar_fields

if TYPE_CHECKING:
    from practice_client.context import Context

log = logging.getLogger(__name__)

ORIGINAL = "original"
SIDECAR = "sidecar.gdt"
SEALED = {ORIGINAL: "original.sealed", SIDECAR: "sidecar.gdt.sealed"}  # the same, at rest
SPOOL_LOCK = ".lock"  # one worker per document (delivery.locks)
CIPHERTEXT = "document.pgp"
MANIFEST = "manifest.pgp"
PROCESSED = "processed"
FAILED = "failed"

ORIGIN_EXPORT = "export"
ORIGIN_SEND = "send"

COPY_CHUNK = 1024 * 1024
ABANDON_FAILED = "document failed"  # its uploads are terminated (delivery/terminations.py)
ABANDON_KEY_CHANGED = "the patient's key changed"  # held: uploads to the old key are terminated
AT_REST = frozenset({DocumentState.UNASSIGNED, DocumentState.FAILED, DocumentState.HELD})


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


def over_limit(config: Config, size: int) -> str | None:
    """Why a document is larger than the practice allows (``max_document_mb``, which the
    administrator's policy may lock; 0 = no limit), or ``None``."""
    limit = config.max_document_mb
    if limit > 0 and size > limit * 1024 * 1024:
        return (f"größer als die erlaubten {limit} MB (max_document_mb) / "
                f"larger than the {limit} MB allowed (max_document_mb)")
    return None


def _copy_fsync(source: Path, target: Path) -> None:
    """Copy a file the user named (``send``) into the spool, never through a last-component
    link; a half-copied file is never visible, nothing is left behind on failure."""
    with open_regular(source) as handle, Folder.root(target.parent) as folder:
        folder.copy_in(handle, target.name)


def _move(source: Folder, name: str, target: Folder, target_name: str) -> None:
    """Atomic rename within one file system; otherwise copy + fsync, then remove the source."""
    try:
        source.rename(name, target, target_name)
    except OSError as exc:
        if exc.errno != errno.EXDEV:
            raise
        with source.open_file(name) as handle:
            target.copy_in(handle, target_name)
        source.unlink(name)
    target.fsync()


def _take_entry(source: Folder, name: str, target: Folder, target_name: str) -> None:
    """Move out of the watched export folder by link + unlink where possible.

    A rename out of a watched tree is an inotify ``IN_MOVED_FROM`` without a partner,
    which watchdog holds back for half a second while it waits for one - delaying
    every later event of the folder. Link + unlink reports a plain delete instead.
    A crash in between leaves two names of one file; :func:`resume` removes the
    export folder's one. Both folders are handles (:class:`Folder`): a folder on the
    way swapped for a link changes nothing."""
    try:
        source.link(name, target, target_name)
    except OSError as exc:
        if exc.errno not in (errno.EXDEV, errno.EPERM, errno.EMLINK, errno.ENOTSUP, errno.EOPNOTSUPP):
            raise
        _move(source, name, target, target_name)
        return
    source.unlink(name)
    target.fsync()
    source.fsync()


def _mkdir_private(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    if os.name == "posix":
        os.chmod(folder, 0o700)


def _spool(ctx: Context, document_id: str, create: bool = False) -> Folder:
    """The document's spool folder (in the home, the client's own: a trusted root)."""
    spool = spool_of(ctx, document_id)
    if create:
        _mkdir_private(spool)
    return Folder.root(spool)


def _below_export(ctx: Context, path: Path) -> tuple[Folder, str]:
    """The folder holding ``path`` (below the export folder), walked without following a
    link in any component, and the entry's name. OSError (ELOOP/ENOTDIR) for a link or a
    file where a folder should be, ValueError for a path outside the export folder."""
    export = export_root(ctx)
    if export is None:
        raise ValueError("no export folder configured")
    parts = Path(os.path.abspath(path)).relative_to(export).parts
    if not parts:
        raise ValueError("the export folder itself")
    with Folder.root(export) as root:
        return root.walk(parts[:-1]), parts[-1]


def _own_folder(ctx: Context, name: str) -> Folder:
    """``processed/`` or ``failed/`` of the export folder. Anything but a plain folder
    there (a link someone put in its place, to have originals parked where they can read
    them) is moved aside - the link itself, never its target, under a dot name the watcher
    leaves alone - and a new folder is made."""
    export = export_root(ctx)
    assert export is not None
    with Folder.root(export, create=True) as root:
        try:
            return root.child(name, create=True, mode=0o777)
        except OSError as exc:
            if exc.errno not in NOT_A_FOLDER:
                raise
            aside = f".{name}.not-a-folder-{uuid.uuid4().hex[:8]}"
            root.rename(name, root, aside)
            ctx.store.record("export.folder_replaced", folder=name, moved_to=aside)
            log.warning("export folder: '%s' was not a plain folder; moved aside as '%s'", name, aside)
            return root.child(name, create=True, mode=0o777)


def _free_name(folder: Folder, name: str, tag: str) -> str:
    """``name``, or ``<stem>-<tag><suffix>`` when that is taken in ``folder``."""
    return name if not folder.exists(name) else tagged_name(name, tag)


# -- detection ---------------------------------------------------------------------------


def ingest(ctx: Context, path: Path) -> Document:
    """A complete entry in the export folder becomes an outbox row, then moves to the spool.

    Called by the watcher, one entry at a time; the entry is gone from the export
    folder when this returns (spool or ``failed/``). Its folders are walked from the
    export folder without following links: when one of them is not a plain folder (it
    was swapped for a link while the watcher was busy), nothing is taken from it."""
    export = export_root(ctx)
    parts = path.relative_to(export).parts if export else (path.name,)
    folder = parts[0] if len(parts) > 1 else None
    extra: dict[str, object] = {"origin": ORIGIN_EXPORT, "folder": folder}
    try:
        parent, name = _below_export(ctx, path)
    except FileNotFoundError:
        raise InputError(path, "Datei verschwunden / file vanished") from None
    except OSError as exc:
        if exc.errno not in NOT_A_FOLDER:
            raise
        doc = _new_row(ctx, path, None, extra)
        return ctx.store.transition(doc.document_id, DocumentState.FAILED, source_path="", error=(
            "Ein Ordner auf dem Weg ist keine normale Ordner mehr (symbolische Verknüpfung?) - nichts "
            "übernommen / a folder on the way is no longer a plain folder (a link?): nothing was taken"))
    with parent:
        try:
            st = parent.lstat(name)
        except FileNotFoundError:
            raise InputError(path, "Datei verschwunden / file vanished") from None
        doc = _new_row(ctx, path, st, extra)
        return _take(ctx, doc, parent, name)


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
        reason = refusal(st) or over_limit(ctx.config, st.st_size)
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


def _new_row(ctx: Context, path: Path, st: os.stat_result | None, extra: dict[str, object]) -> Document:
    now = now_iso()
    if st is not None:
        extra = {**extra, "modified_at": datetime.fromtimestamp(st.st_mtime, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")}
    doc = Document(
        document_id=str(uuid.uuid4()), state=DocumentState.DETECTED,
        original_name=safe_name(path.name), source_path=display_name(str(path)),
        size=st.st_size if st is not None and stat.S_ISREG(st.st_mode) else 0, sha256="", created_at=now,
        updated_at=now, extra=extra,
    )
    ctx.store.add_document(doc)
    return doc


def _take(ctx: Context, doc: Document, parent: Folder, name: str) -> Document:
    """Move the entry from the export folder into the spool (or refuse it), then match."""
    try:
        st = parent.lstat(name)
    except FileNotFoundError:
        return fail(ctx, doc, "Datei verschwunden / file vanished")
    reason = refusal(st) or over_limit(ctx.config, st.st_size)
    if reason is not None:
        return refuse(ctx, doc, parent, name, reason)
    try:
        with _spool(ctx, doc.document_id, create=True) as spool:
            _take_entry(parent, name, spool, ORIGINAL)
            conflict = _take_records(parent, name, spool)
    except OSError as exc:
        why = ("Spool voll, Original unverändert / spool disk full, original untouched"
               if exc.errno == errno.ENOSPC else
               f"Übernahme ins Spool fehlgeschlagen / could not move to the spool: {exc.strerror}")
        return refuse(ctx, doc, parent, name, why)
    return _after_take(ctx, doc, conflict)


def _take_records(parent: Folder, name: str, spool: Folder) -> str | None:
    """The document's GDT record (its sidecar, or a GDT file of its folder whose 6305 names
    it) travels into the spool with it, through the folder's handle; several are a
    conflict: they stay in the export folder, and the reason is returned."""
    records = sidecar.records_for(parent.path / name)
    if len(records) > 1:
        return sidecar.conflict(records)
    with contextlib.suppress(OSError):
        if records and records[0].parent == parent.path and not spool.exists(SIDECAR):
            st = parent.lstat(records[0].name)
            if sidecar.is_regular(st):
                _take_entry(parent, records[0].name, spool, SIDECAR)
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


OPEN_PAGE = 500


def open_requests(ctx: Context, now: datetime) -> list[RequestRecord]:
    """The requests a document may go to: accepted and not expired. Read through the index
    on (status, expiry), a page at a time: years of decided requests are never read."""
    found: list[RequestRecord] = []
    after = None
    expiring_after = (now - timedelta(days=1)).strftime("%Y-%m-%d")  # coarse; is_open decides
    while True:
        page = ctx.store.page_requests(statuses=[str(RequestStatus.ACCEPTED)], expiring_after=expiring_after,
                                       after=after, limit=OPEN_PAGE)
        found += [record for _key, record in page if matching.is_open(record, now)]
        if len(page) < OPEN_PAGE:
            return found
        after = page[-1][0]


def match_data(ctx: Context) -> matching.MatchData:
    now = datetime.now(UTC)
    return matching.MatchData(requests=open_requests(ctx, now), identities=identity_index(ctx), now=now)


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
    """The matching rules applied to a document in the spool (its GDT record beside it,
    plain or sealed)."""
    try:
        fields = _sidecar(ctx, doc.document_id)
    except PracticeClientError as exc:
        problem = exc.problem if isinstance(exc, InputError) else str(exc)
        return matching.Match(None, None, f"GDT-Datei unlesbar / GDT sidecar unreadable: {problem}")
    folder, conflict = doc.extra.get("folder"), doc.extra.get("sidecar_conflict")
    if isinstance(folder, str) and matching.looks_like_request_id(folder) and \
            all(r.request_id != folder.lower() for r in data.requests):
        named = ctx.store.get_request(folder.lower())  # staff learn why that folder's request cannot take it
        if named is not None:
            data = replace(data, requests=[*data.requests, named])
    return matching.match_file(
        folder if isinstance(folder, str) else None, doc.original_name, fields, name_rule(ctx.config), data,
        conflict if isinstance(conflict, str) else None,
    )


def match(ctx: Context, doc: Document) -> Document:
    """Apply the matching rules; ``matched`` or ``unassigned`` (with the reason for staff).
    An unassigned document waits for staff with its original sealed (:func:`rest`)."""
    spool = spool_of(ctx, doc.document_id)
    found = _find(ctx, doc, match_data(ctx))
    size = os.lstat(spool / ORIGINAL).st_size
    if found.matched:
        return ctx.store.transition(
            doc.document_id, DocumentState.MATCHED, request_id=found.request_id,
            match_method=found.method, source_path=str(spool / ORIGINAL), size=size, error=None,
            extra=doc.extra,
        )
    unassigned = ctx.store.transition(
        doc.document_id, DocumentState.UNASSIGNED, error=found.reason,
        source_path=str(spool / ORIGINAL), size=size, extra=doc.extra,
    )
    rest(ctx, doc.document_id)
    return unassigned


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


def _sidecar(ctx: Context, document_id: str) -> dict[str, str] | None:
    """The GDT sidecar's fields, plain or sealed; InputError when it is unreadable."""
    spool = spool_of(ctx, document_id)
    if (spool / SIDECAR).exists():
        return read_sidecar(spool / SIDECAR)
    sealed = spool / SEALED[SIDECAR]
    if not sealed.exists():
        return None
    data = unseal_bytes(ctx.spool_key, sealed, _label(document_id, SIDECAR), MAX_SIDECAR_BYTES)
    return sidecar_fields(data, SIDECAR)


# -- at rest: sealed while waiting --------------------------------------------------------------


def _label(document_id: str, part: str) -> bytes:
    """What a sealed spool file is: it opens only as this part of this document."""
    return f"{document_id}/{part}".encode()


def kept(spool: Path) -> bool:
    """Is the document's original in its spool folder (plain or sealed)?"""
    return os.path.lexists(spool / ORIGINAL) or os.path.lexists(spool / SEALED[ORIGINAL])


def rest(ctx: Context, document_id: str) -> None:
    """A document that waits (unassigned, for staff; failed, for a retry) keeps its original
    and sidecar sealed (:mod:`practice_client.core.sealedfile`), never in plain text.

    Idempotent and crash-safe: the sealed copy is complete and durable (atomic write)
    before the plain file is removed. Only while the document is still waiting and no
    worker holds it (the spool lock); the pipeline calls this again when it lets go."""
    spool = spool_of(ctx, document_id)
    with FileLock(spool / SPOOL_LOCK) as held:
        doc = ctx.store.get_document(document_id) if held else None
        if doc is not None and doc.state in AT_REST:
            _convert(ctx, document_id, sealing=True)


def wake(ctx: Context, document_id: str) -> None:
    """The plain original and sidecar back in the spool, for work on them (the caller holds
    the document: the pipeline's lock, or the document is not in the pipeline's hands)."""
    _convert(ctx, document_id, sealing=False)


def _convert(ctx: Context, document_id: str, sealing: bool) -> None:
    """Each part from plain to sealed (or back): the new form is written completely
    (atomically) before the old one goes, so a crash leaves one whole form at least."""
    spool = spool_of(ctx, document_id)
    for part, sealed in SEALED.items():
        source, target = (part, sealed) if sealing else (sealed, part)
        if not os.path.lexists(spool / source):
            continue
        if not os.path.lexists(spool / target):
            convert = seal_file if sealing else unseal_file
            convert(ctx.spool_key, spool / source, spool / target, _label(document_id, part))
        (spool / source).unlink()
        fsync_dir(spool)


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
    for record in open_requests(ctx, now):
        identity = index.of_request(record)
        if identity.pms is None:
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
    # an upload to the old key that had begun is discarded (tus termination): a release
    # encrypts anew to the new key, a withhold sends nothing
    return ctx.store.transition(doc.document_id, DocumentState.HELD, error=str(change), abandon=ABANDON_KEY_CHANGED,
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
    wake(ctx, document_id)  # kept in the spool, sealed
    if not os.path.lexists(original):
        parked = _parked(ctx, doc)
        if parked is None:
            raise StateError(f"{document_id}: das Original ist nicht mehr da / the original is gone "
                             f"({doc.source_path or 'no copy kept'})")
        folder, name = parked
        with folder, _spool(ctx, document_id, create=True) as own:
            _take_entry(folder, name, own, ORIGINAL)
            with contextlib.suppress(FileNotFoundError):
                folder.unlink(f"{name}.reason.txt")
            with contextlib.suppress(OSError):
                if folder.exists(f"{name}.gdt"):
                    _take_entry(folder, f"{name}.gdt", own, SIDECAR)
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


def _parked(ctx: Context, doc: Document) -> tuple[Folder, str] | None:
    """The folder (a handle) and name of the original a failed document left in ``failed/``;
    None when there is none, or it cannot be reached without following a link."""
    if not doc.source_path:
        return None
    try:
        folder, name = _below_export(ctx, Path(doc.source_path))
    except (OSError, ValueError):
        return None
    if folder.exists(name):
        return folder, name
    folder.close()
    return None


# -- endings ----------------------------------------------------------------------------------


def _parking(ctx: Context, doc: Document, folder_name: str) -> Path | None:
    """Where the original goes at the end (``processed/`` or ``failed/`` of the export folder)."""
    export = export_root(ctx)
    if doc.extra.get("origin") != ORIGIN_EXPORT or export is None:
        return None
    with _own_folder(ctx, folder_name) as folder:
        return export / folder_name / _free_name(folder, doc.original_name, doc.document_id[:8])


def refuse(ctx: Context, doc: Document, parent: Folder, entry: str, reason: str) -> Document:
    """An entry we must not read (link, FIFO, device, ...) or could not take: it moves,
    as it is and never followed, from the export folder to ``failed/`` with the reason."""
    target = _parking(ctx, doc, FAILED)
    failed = ctx.store.transition(doc.document_id, DocumentState.FAILED, error=reason,
                                  source_path=str(target) if target else "",
                                  parked_at=now_iso() if target else None)
    if target is not None:
        with _own_folder(ctx, FAILED) as folder:
            try:
                parent.rename(entry, folder, target.name)  # rename moves a link itself, never its target
                _write_reason(folder, target.name, reason)
            except OSError as exc:  # gone, or its folder was swapped meanwhile: nothing to move
                if not isinstance(exc, FileNotFoundError) and exc.errno not in NOT_A_FOLDER:
                    raise
    shutil.rmtree(spool_of(ctx, doc.document_id), ignore_errors=True)
    log.info("document %s refused", doc.document_id)
    return failed


def fail(ctx: Context, doc: Document, reason: str, audit: dict[str, Any] | None = None) -> Document:
    """A document that cannot be delivered: ``failed`` with the reason, original to ``failed/``
    (or, sent from elsewhere, kept sealed in the spool) - for a retry, until retention."""
    target = _parking(ctx, doc, FAILED)
    failed = ctx.store.transition(doc.document_id, DocumentState.FAILED, abandon=ABANDON_FAILED, audit=audit,
                                  error=reason, source_path=str(target) if target else "",
                                  parked_at=now_iso())
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
        doc.document_id, DocumentState.DELIVERED, audit={"gdt_answer": answer.name} if answer else None,
        delivered_at=now_iso(), ciphertext_sha256=ciphertext_sha256,
        source_path=str(target) if target else "", error=None, parked_at=now_iso() if target else None,
    )
    settle(ctx, done)
    return done


def settle(ctx: Context, doc: Document) -> None:
    """Finish moving the original of a delivered or failed document (idempotent, resumable).

    The parking folder is ``processed/`` for a delivered document, ``failed/`` for a failed
    one, opened without following a link (:func:`_own_folder`); the name is the row's."""
    spool = spool_of(ctx, doc.document_id)
    name = Path(doc.source_path).name if doc.source_path else None
    if kept(spool):
        if name is None:
            if doc.state is not DocumentState.DELIVERED:
                rest(ctx, doc.document_id)  # failed and sent from elsewhere: kept, sealed, for a retry
                return
            for part in (ORIGINAL, SEALED[ORIGINAL]):  # sent from elsewhere, or after_delivery = "remove"
                with contextlib.suppress(FileNotFoundError):
                    (spool / part).unlink()
        else:
            delivered_doc = doc.state is DocumentState.DELIVERED
            wake(ctx, doc.document_id)  # the original leaves the spool as it came
            with _own_folder(ctx, PROCESSED if delivered_doc else FAILED) as folder, \
                    _spool(ctx, doc.document_id) as own:
                if delivered_doc:
                    # the name was taken meanwhile; a failed one stays put instead: retry finds it by the row
                    name = _free_name(folder, name, doc.document_id[:8])
                if folder.exists(name):
                    rest(ctx, doc.document_id)  # failed, and no free name: kept, sealed, for a retry
                    return
                _move(own, ORIGINAL, folder, name)
                if not delivered_doc:
                    _write_reason(folder, name, doc.error or "")
                if own.exists(SIDECAR):
                    _move(own, SIDECAR, folder, f"{name}.gdt")
    if doc.state is DocumentState.DELIVERED or not kept(spool):
        shutil.rmtree(spool, ignore_errors=True)


def remove_original(ctx: Context, doc: Document) -> None:
    """Retention: what is kept of a finished document's original goes - in ``processed/``
    or ``failed/`` (with its sidecar and reason file) and in the spool. Idempotent."""
    own = PROCESSED if doc.state is DocumentState.DELIVERED else FAILED
    export = export_root(ctx)
    parked = Path(doc.source_path) if doc.source_path else None
    if export is not None and parked is not None and parked.parent == export / own:
        with _own_folder(ctx, own) as folder:
            for entry in (parked.name, f"{parked.name}.gdt", f"{parked.name}.reason.txt"):
                with contextlib.suppress(FileNotFoundError):
                    folder.unlink(entry)
            folder.fsync()
    shutil.rmtree(spool_of(ctx, doc.document_id), ignore_errors=True)


def _write_reason(folder: Folder, name: str, reason: str) -> None:
    folder.write_file(f"{name}.reason.txt", (reason + "\n").encode("utf-8"), 0o644)


# -- start-up -------------------------------------------------------------------------------------


def resume(ctx: Context) -> list[Document]:
    """After a (crashed) run: finish half-done moves, seal what waits; return the rows the
    pipeline must continue."""
    store = ctx.store
    _seal_waiting(ctx)
    for doc in store.list_documents([DocumentState.DELIVERED, DocumentState.FAILED]):
        if spool_of(ctx, doc.document_id).exists():
            with contextlib.suppress(OSError):
                settle(ctx, doc)
    for doc in store.list_documents([DocumentState.DETECTED]):
        original = spool_of(ctx, doc.document_id) / ORIGINAL
        try:
            if os.path.lexists(original):
                _drop_second_name(ctx, Path(doc.source_path), original)
                _after_take(ctx, doc, _records_after_crash(ctx, doc))
                continue
            try:
                parent, name = _below_export(ctx, Path(doc.source_path))
            except (OSError, ValueError):
                parent = None
            if parent is not None and parent.exists(name):
                with parent:
                    _take(ctx, doc, parent, name)
            else:
                if parent is not None:
                    parent.close()
                fail(ctx, doc, "Original beim Neustart nicht gefunden / original not found on restart")
        except OSError as exc:
            fail(ctx, doc, f"Wiederaufnahme fehlgeschlagen / resume failed: {exc.strerror}")
    return store.list_documents([DocumentState.MATCHED, DocumentState.ENCRYPTED,
                                 DocumentState.UPLOADING])


def _seal_waiting(ctx: Context) -> None:
    """Originals of waiting documents that a crash (or a busy worker) left in plain text get
    sealed. Driven by the spool folder, which holds only documents in work or waiting."""
    if not ctx.home.spool.is_dir():
        return
    for entry in os.scandir(ctx.home.spool):
        doc = ctx.store.get_document(entry.name) if entry.is_dir(follow_symlinks=False) else None
        if doc is not None and doc.state in AT_REST and os.path.lexists(Path(entry.path) / ORIGINAL):
            with contextlib.suppress(OSError):
                rest(ctx, doc.document_id)


def _records_after_crash(ctx: Context, doc: Document) -> str | None:
    """A crash after the original was taken, before its GDT record: the record follows now."""
    try:
        parent, name = _below_export(ctx, Path(doc.source_path))
    except (OSError, ValueError):
        return None
    with parent, _spool(ctx, doc.document_id) as spool:
        return _take_records(parent, name, spool)


def _drop_second_name(ctx: Context, source: Path, original: Path) -> None:
    """A crash between link and unlink (:func:`_take_entry`): the export folder's name goes."""
    with contextlib.suppress(OSError, ValueError):
        parent, name = _below_export(ctx, source)
        with parent:
            st_source, st_original = parent.lstat(name), os.lstat(original)
            if (st_source.st_dev, st_source.st_ino) == (st_original.st_dev, st_original.st_ino):
                parent.unlink(name)


def _get(ctx: Context, document_id: str) -> Document:
    doc = ctx.store.get_document(document_id)
    if doc is None:
        raise StateError(f"{document_id}: kein solches Dokument / no such document")
    return doc
