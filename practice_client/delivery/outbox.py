"""The outbox: one row per document, created before any work on the file starts.

A document's life is ``detected -> matched -> encrypted -> uploading -> delivered``
(or ``unassigned`` for staff, or ``failed`` with a reason); every step is one
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
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from practice_client.core.atomic import atomic_write, fsync_dir
from practice_client.core.audit import now_iso
from practice_client.core.config import Config
from practice_client.core.errors import InputError, StateError
from practice_client.core.files import open_regular
from practice_client.core.models import Document, DocumentState, RequestRecord
from practice_client.delivery import matching
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
ABANDON_FAILED = "document failed"  # its uploads are terminated (delivery/terminations.py)


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
        st = os.lstat(path)
    except FileNotFoundError:
        return fail(ctx, doc, "Datei verschwunden / file vanished")
    reason = refusal(st) or over_limit(ctx.config, st.st_size)
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
    sidecar = Path(f"{path}.gdt")
    with contextlib.suppress(OSError):
        st = os.lstat(sidecar)
        if stat.S_ISREG(st.st_mode) and st.st_nlink == 1:
            _take_entry(sidecar, spool / SIDECAR)
    return _after_take(ctx, doc)


def _after_take(ctx: Context, doc: Document) -> Document:
    """The entry is ours now: check again what it is (it may have been swapped), then match."""
    original = spool_of(ctx, doc.document_id) / ORIGINAL
    st = os.lstat(original)
    reason = refusal(st)
    if reason is not None:
        return fail(ctx, doc, reason)
    return match(ctx, doc)


def match_data(ctx: Context) -> matching.MatchData:
    store = ctx.store
    return matching.MatchData(
        requests=store.list_requests(),
        pins={p.patient_number: p.fingerprint for p in store.list_pins()},
        patients={p.patient_number: p for p in store.list_patients()},
        now=datetime.now(UTC),
    )


def match(ctx: Context, doc: Document) -> Document:
    """Apply the matching rules; ``matched`` or ``unassigned`` (with the reason for staff)."""
    spool = spool_of(ctx, doc.document_id)
    sidecar_path = spool / SIDECAR
    sidecar: dict[str, str] | None = None
    if sidecar_path.exists():
        try:
            sidecar = read_sidecar(sidecar_path)
        except InputError as exc:
            return ctx.store.transition(
                doc.document_id, DocumentState.UNASSIGNED, source_path=str(spool / ORIGINAL),
                error=f"GDT-Datei unlesbar / GDT sidecar unreadable: {exc.problem}",
            )
    folder = doc.extra.get("folder")
    found = matching.match_file(
        folder if isinstance(folder, str) else None, doc.original_name, sidecar,
        ctx.config.filename_pattern, match_data(ctx),
    )
    size = os.lstat(spool / ORIGINAL).st_size
    if found.matched:
        return ctx.store.transition(
            doc.document_id, DocumentState.MATCHED, request_id=found.request_id,
            match_method=found.method, source_path=str(spool / ORIGINAL), size=size, error=None,
        )
    return ctx.store.transition(
        doc.document_id, DocumentState.UNASSIGNED, error=found.reason,
        source_path=str(spool / ORIGINAL), size=size,
    )


def rematch(ctx: Context) -> list[Document]:
    """Unassigned documents whose rules now give exactly one request (staff accepted the
    request after the PMS exported the file) move on; the others stay with staff."""
    moved = []
    data = match_data(ctx)
    for doc in ctx.store.list_documents([DocumentState.UNASSIGNED]):
        spool = spool_of(ctx, doc.document_id)
        try:
            sidecar = read_sidecar(spool / SIDECAR) if (spool / SIDECAR).exists() else None
        except InputError:
            continue
        folder = doc.extra.get("folder")
        found = matching.match_file(folder if isinstance(folder, str) else None, doc.original_name,
                                    sidecar, ctx.config.filename_pattern, data)
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


def assign(ctx: Context, document_id: str, request_id: str) -> Document:
    """Staff assign an unassigned document to an accepted request (the GUI)."""
    doc = _get(ctx, document_id)
    if doc.state is not DocumentState.UNASSIGNED:
        raise StateError(f"{document_id}: nur nicht zugeordnete Dokumente / only unassigned documents "
                         f"can be assigned (this one is {doc.state})")
    record = open_request(ctx, request_id)
    return ctx.store.transition(
        document_id, DocumentState.MATCHED, request_id=record.request_id,
        match_method=matching.STAFF, error=None,
    )


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


def fail(ctx: Context, doc: Document, reason: str) -> Document:
    """A document that cannot be delivered: ``failed`` with the reason, original to ``failed/``."""
    target = _parking(ctx, doc, FAILED)
    failed = ctx.store.transition(doc.document_id, DocumentState.FAILED, error=reason,
                                  source_path=str(target) if target else "", abandon=ABANDON_FAILED)
    try:
        settle(ctx, failed)
    except OSError as exc:  # the row says where the original belongs; the next start finishes it
        log.error("document %s: could not park the original (errno %s)", doc.document_id, exc.errno)
    log.info("document %s failed", doc.document_id)
    return failed


def delivered(ctx: Context, doc: Document, ciphertext_sha256: str) -> Document:
    """Record the receipt, then move the original to ``processed/`` (or remove it)."""
    target = _parking(ctx, doc, PROCESSED) if ctx.config.after_delivery != "remove" else None
    done = ctx.store.transition(
        doc.document_id, DocumentState.DELIVERED, delivered_at=now_iso(),
        ciphertext_sha256=ciphertext_sha256, source_path=str(target) if target else "", error=None,
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
                _after_take(ctx, doc)
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
