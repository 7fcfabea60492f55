"""Where a document's files are, at every step: the spool's layout and every move, defined once.

The spool (``<home>/spool/<document id>/``) is the client's own folder, one per document::

    original              the document as taken from the export folder (or copied by ``send``)
    sidecar.gdt           its GDT record, when the PMS wrote one
    original.sealed       the same two *at rest* (encrypted with the spool key, core.sealedfile)
    sidecar.gdt.sealed    while the document waits: unassigned, held, failed (:meth:`Spool.rest_parts`)
    .document.pgp.<uuid>.tmp  gpg's output while it works (one name per attempt)
    document.pgp          the sealed document (signed + encrypted to the patient, :mod:`.seal`;
                          the state ``encrypted``): the receipt's bytes
    manifest.pgp          its sealed manifest
    .lock                 one worker per document, across processes (:mod:`.locks`)

The export folder gets two folders of the client's own, never watched:
``processed/`` (originals of delivered documents) and ``failed/`` (originals of failed
ones, each with ``<name>.reason.txt`` and its GDT record as ``<name>.gdt``).

Every move keeps one whole copy at every moment: a rename within one file system,
or copy + fsync before the source goes; a link + unlink out of the export folder (a
crash between leaves two names of one file, which the outbox's resume resolves).
Folders below the export folder are opened as handles that never follow a link
(:class:`~practice_client.core.files.Folder`).
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import shutil
import stat
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from practice_client.core.atomic import fsync_dir
from practice_client.core.files import NOT_A_FOLDER, Folder, open_regular
from practice_client.core.sealedfile import seal_file, unseal_bytes, unseal_file
from practice_client.core.text import Text
from practice_client.delivery.locks import FileLock
from practice_client.delivery.names import tagged_name
from practice_client.delivery.sidecar import MAX_SIDECAR_BYTES, read_sidecar, sidecar_fields

if TYPE_CHECKING:
    from practice_client.context import Context
    from practice_client.core.config import Config

log = logging.getLogger(__name__)

ORIGINAL = "original"
SIDECAR = "sidecar.gdt"
SEALED = {ORIGINAL: "original.sealed", SIDECAR: "sidecar.gdt.sealed"}  # the same, at rest
LOCK = ".lock"  # one worker per document (delivery.locks)
CIPHERTEXT = "document.pgp"
MANIFEST = "manifest.pgp"
PROCESSED = "processed"
FAILED = "failed"
OWN_FOLDERS = frozenset({PROCESSED, FAILED})  # the export folder's folders of the client's own
REASON_SUFFIX = ".reason.txt"  # beside an original in failed/: why
RECORD_SUFFIX = ".gdt"  # beside an original in processed/ or failed/: its GDT record


# -- what may enter the spool ------------------------------------------------------------


def refusal(st: os.stat_result) -> Text | None:
    """Why an entry is not a document we may read, or ``None`` for a plain file."""
    mode = st.st_mode
    if stat.S_ISLNK(mode):
        return Text("symbolische Verknüpfung, nicht gefolgt", "symbolic link, not followed")
    if stat.S_ISFIFO(mode):
        return Text("benannte Pipe (FIFO)", "named pipe (FIFO)")
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return Text("Gerätedatei", "device file")
    if stat.S_ISSOCK(mode):
        return Text("Socket", "socket")
    if stat.S_ISDIR(mode):
        return Text("Ordner an dieser Stelle", "a folder where a file was expected")
    if not stat.S_ISREG(mode):
        return Text("keine normale Datei", "not a regular file")
    if st.st_nlink > 1:
        return Text("harte Verknüpfung (mehrere Namen)", "hard link (several names)")
    if st.st_size == 0:
        return Text("leere Datei (0 Byte)", "empty file (0 bytes)")
    return None


def over_limit(config: Config, size: int) -> Text | None:
    """Why a document is larger than the practice allows (``max_document_mb``, which the
    administrator's policy may lock; 0 = no limit), or ``None``."""
    limit = config.max_document_mb
    if limit > 0 and size > limit * 1024 * 1024:
        return Text(f"größer als die erlaubten {limit} MB (max_document_mb)",
                    f"larger than the {limit} MB allowed (max_document_mb)")
    return None


# -- moves -------------------------------------------------------------------------------


def copy_in(source: Path, target: Path) -> None:
    """Copy a file the user named (``send``) into the spool, never through a last-component
    link; a half-copied file is never visible, nothing is left behind on failure."""
    with open_regular(source) as handle, Folder.root(target.parent) as folder:
        folder.copy_in(handle, target.name)


def move(source: Folder, name: str, target: Folder, target_name: str) -> None:
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


def take_entry(source: Folder, name: str, target: Folder, target_name: str) -> None:
    """Move out of the watched export folder by link + unlink where possible.

    A rename out of a watched tree is an inotify ``IN_MOVED_FROM`` without a partner,
    which watchdog holds back for half a second while it waits for one - delaying
    every later event of the folder. Link + unlink reports a plain delete instead.
    A crash in between leaves two names of one file; :func:`drop_second_name` removes
    the export folder's one. Both folders are handles (:class:`Folder`): a folder on the
    way swapped for a link changes nothing."""
    try:
        source.link(name, target, target_name)
    except OSError as exc:
        if exc.errno not in (errno.EXDEV, errno.EPERM, errno.EMLINK, errno.ENOTSUP, errno.EOPNOTSUPP):
            raise
        move(source, name, target, target_name)
        return
    source.unlink(name)
    target.fsync()
    source.fsync()


def free_name(folder: Folder, name: str, tag: str) -> str:
    """``name``, or ``<stem>-<tag><suffix>`` when that is taken in ``folder``."""
    return name if not folder.exists(name) else tagged_name(name, tag)


def write_reason(folder: Folder, name: str, reason: Text) -> None:
    """``<name>.reason.txt`` beside a failed original: both languages, for whoever opens it."""
    folder.write_file(f"{name}{REASON_SUFFIX}", (str(reason) + "\n").encode("utf-8"), 0o644)


def _mkdir_private(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    if os.name == "posix":
        os.chmod(folder, 0o700)


def _label(document_id: str, part: str) -> bytes:
    """What a sealed spool file is: it opens only as this part of this document."""
    return f"{document_id}/{part}".encode()


# -- one home's spool and export folder -----------------------------------------------------


@dataclass(frozen=True)
class Spool:
    """The spool of one home and the export folder it takes documents from."""

    root: Path  # <home>/spool
    export: Path | None  # absolute; None when no export folder is configured
    key: Callable[[], bytes]  # the key of what is sealed at rest (from the keyring: asked when needed)
    record: Callable[..., object]  # an audit entry (the store's ``record``)

    @classmethod
    def of(cls, ctx: Context) -> Spool:
        export = Path(os.path.abspath(ctx.config.export_dir)) if ctx.config.export_dir else None
        return cls(ctx.home.spool, export, lambda: ctx.spool_key,
                   lambda action, **details: ctx.store.record(action, **details))

    # -- a document's folder

    def folder(self, document_id: str) -> Path:
        return self.root / document_id

    def open(self, document_id: str, create: bool = False) -> Folder:
        """The document's spool folder as a handle (in the home, the client's own: a trusted root)."""
        folder = self.folder(document_id)
        if create:
            _mkdir_private(folder)
        return Folder.root(folder)

    def original(self, document_id: str) -> Path:
        """The document's original in plain text (while it is worked on)."""
        return self.folder(document_id) / ORIGINAL

    def make(self, document_id: str) -> Path:
        """The document's spool folder, created private (for ``send``'s copy)."""
        folder = self.folder(document_id)
        _mkdir_private(folder)
        return folder

    def lock(self, document_id: str) -> FileLock:
        """One worker per document, across processes."""
        return FileLock(self.folder(document_id) / LOCK)

    def remove(self, document_id: str) -> None:
        shutil.rmtree(self.folder(document_id), ignore_errors=True)

    def kept(self, document_id: str) -> bool:
        """Is the document's original in its spool folder (plain or sealed)?"""
        folder = self.folder(document_id)
        return os.path.lexists(folder / ORIGINAL) or os.path.lexists(folder / SEALED[ORIGINAL])

    def waiting(self) -> Iterator[str]:
        """The ids of the documents with a spool folder holding a plain original."""
        if not self.root.is_dir():
            return
        for entry in os.scandir(self.root):
            if entry.is_dir(follow_symlinks=False) and os.path.lexists(Path(entry.path) / ORIGINAL):
                yield entry.name

    def partial_ciphertext(self, document_id: str) -> Path:
        """A fresh name for gpg's output; earlier attempts' leftovers are removed. A unique
        name per attempt: a gpg orphaned by a killed run may still be writing its own."""
        folder = self.folder(document_id)
        for stale in folder.glob(f".{CIPHERTEXT}.*.tmp"):
            stale.unlink(missing_ok=True)
        return folder / f".{CIPHERTEXT}.{uuid.uuid4().hex}.tmp"

    def drop_original(self, document_id: str) -> None:
        """The spool's copy of the original goes, plain or at rest (delivered, nothing to park)."""
        for part in (ORIGINAL, SEALED[ORIGINAL]):
            with contextlib.suppress(FileNotFoundError):
                (self.folder(document_id) / part).unlink()

    def drop_ciphertexts(self, document_id: str) -> None:
        """The sealed document and manifest of an earlier attempt go (a retry seals anew)."""
        for leftover in (CIPHERTEXT, MANIFEST):
            with contextlib.suppress(FileNotFoundError):
                (self.folder(document_id) / leftover).unlink()

    # -- at rest: encrypted with the spool key while waiting (core.sealedfile)

    def rest_parts(self, document_id: str) -> None:
        """Original and sidecar from plain to at rest (the caller holds the document)."""
        self._convert(document_id, sealing=True)

    def wake_parts(self, document_id: str) -> None:
        """Original and sidecar back in plain text, for work on them."""
        self._convert(document_id, sealing=False)

    def _convert(self, document_id: str, sealing: bool) -> None:
        """Each part from plain to sealed (or back): the new form is written completely
        (atomically) before the old one goes, so a crash leaves one whole form at least."""
        folder = self.folder(document_id)
        for part, sealed in SEALED.items():
            source, target = (part, sealed) if sealing else (sealed, part)
            if not os.path.lexists(folder / source):
                continue
            if not os.path.lexists(folder / target):
                convert = seal_file if sealing else unseal_file
                convert(self.key(), folder / source, folder / target, _label(document_id, part))
            (folder / source).unlink()
            fsync_dir(folder)

    def sidecar(self, document_id: str) -> dict[str, str] | None:
        """The GDT sidecar's fields, plain or sealed; InputError when it is unreadable."""
        folder = self.folder(document_id)
        if (folder / SIDECAR).exists():
            return read_sidecar(folder / SIDECAR)
        sealed = folder / SEALED[SIDECAR]
        if not sealed.exists():
            return None
        data = unseal_bytes(self.key(), sealed, _label(document_id, SIDECAR), MAX_SIDECAR_BYTES)
        return sidecar_fields(data, SIDECAR)

    # -- the export folder

    def below_export(self, path: Path) -> tuple[Folder, str]:
        """The folder holding ``path`` (below the export folder), walked without following a
        link in any component, and the entry's name. OSError (ELOOP/ENOTDIR) for a link or a
        file where a folder should be, ValueError for a path outside the export folder."""
        if self.export is None:
            raise ValueError("no export folder configured")
        parts = Path(os.path.abspath(path)).relative_to(self.export).parts
        if not parts:
            raise ValueError("the export folder itself")
        with Folder.root(self.export) as root:
            return root.walk(parts[:-1]), parts[-1]

    def own_folder(self, name: str) -> Folder:
        """``processed/`` or ``failed/`` of the export folder. Anything but a plain folder
        there (a link someone put in its place, to have originals parked where they can read
        them) is moved aside - the link itself, never its target, under a dot name the watcher
        leaves alone - and a new folder is made."""
        assert self.export is not None
        with Folder.root(self.export, create=True) as root:
            try:
                return root.child(name, create=True, mode=0o777)
            except OSError as exc:
                if exc.errno not in NOT_A_FOLDER:
                    raise
                aside = f".{name}.not-a-folder-{uuid.uuid4().hex[:8]}"
                root.rename(name, root, aside)
                self.record("export.folder_replaced", folder=name, moved_to=aside)
                log.warning("export folder: '%s' was not a plain folder; moved aside as '%s'", name, aside)
                return root.child(name, create=True, mode=0o777)

    def parking(self, document_id: str, original_name: str, folder_name: str) -> Path:
        """A free path for an original in ``processed/`` or ``failed/``."""
        assert self.export is not None
        with self.own_folder(folder_name) as folder:
            return self.export / folder_name / free_name(folder, original_name, document_id[:8])

    def parked(self, source_path: str) -> tuple[Folder, str] | None:
        """The folder (a handle) and name of an original parked at ``source_path``; None when
        there is none, or it cannot be reached without following a link."""
        if not source_path:
            return None
        try:
            folder, name = self.below_export(Path(source_path))
        except (OSError, ValueError):
            return None
        if folder.exists(name):
            return folder, name
        folder.close()
        return None

    def take_back(self, document_id: str, folder: Folder, name: str) -> None:
        """A parked original (with its GDT record) back into the spool; its reason file goes."""
        with folder, self.open(document_id, create=True) as own:
            take_entry(folder, name, own, ORIGINAL)
            with contextlib.suppress(FileNotFoundError):
                folder.unlink(f"{name}{REASON_SUFFIX}")
            with contextlib.suppress(OSError):
                if folder.exists(f"{name}{RECORD_SUFFIX}"):
                    take_entry(folder, f"{name}{RECORD_SUFFIX}", own, SIDECAR)

    def refuse_entry(self, parent: Folder, entry: str, name: str, reason: Text) -> None:
        """An entry of the export folder that must not be read moves, as it is (a rename
        moves a link itself, never its target), to ``failed/`` as ``name`` with the reason.
        Gone meanwhile, or its folder swapped: nothing to move."""
        with self.own_folder(FAILED) as folder:
            try:
                parent.rename(entry, folder, name)
                write_reason(folder, name, reason)
            except OSError as exc:
                if not isinstance(exc, FileNotFoundError) and exc.errno not in NOT_A_FOLDER:
                    raise

    def park(self, document_id: str, folder_name: str, name: str, reason: Text | None) -> bool:
        """The spooled original (and its GDT record) to ``processed/`` or ``failed/`` under
        ``name`` - a delivered one (no ``reason``) under a free name when that was taken
        meanwhile, a failed one with its reason file. False when a failed one's name is
        taken: it stays (a retry finds it by the row)."""
        with self.own_folder(folder_name) as folder, self.open(document_id) as own:
            if reason is None:
                name = free_name(folder, name, document_id[:8])
            if folder.exists(name):
                return False
            move(own, ORIGINAL, folder, name)
            if reason is not None:
                write_reason(folder, name, reason)
            if own.exists(SIDECAR):
                move(own, SIDECAR, folder, f"{name}{RECORD_SUFFIX}")
        return True

    def remove_parked(self, folder_name: str, parked: Path) -> None:
        """Retention: an original in ``processed/`` or ``failed/`` goes with what lies beside it."""
        if self.export is None or parked.parent != self.export / folder_name:
            return
        with self.own_folder(folder_name) as folder:
            for entry in (parked.name, f"{parked.name}{RECORD_SUFFIX}", f"{parked.name}{REASON_SUFFIX}"):
                with contextlib.suppress(FileNotFoundError):
                    folder.unlink(entry)
            folder.fsync()

    def drop_second_name(self, source: Path, document_id: str) -> None:
        """A crash between link and unlink (:func:`take_entry`): the export folder's name goes."""
        original = self.folder(document_id) / ORIGINAL
        with contextlib.suppress(OSError, ValueError):
            parent, name = self.below_export(source)
            with parent:
                st_source, st_original = parent.lstat(name), os.lstat(original)
                if (st_source.st_dev, st_source.st_ino) == (st_original.st_dev, st_original.st_ino):
                    parent.unlink(name)
