"""Reading input files the user or the PMS hands over: bounded, one-line errors.

Every file the client parses (trust certificates, master data, sidecars, key
backups) is read whole but never beyond a limit, so a huge or endless file
(a FIFO, /dev/zero) cannot exhaust memory, and a read error names the file.
Files taken from folders others can write to are opened with :func:`open_regular`;
whether a writer still holds one is asked with :func:`openable`.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import io
import logging
import os
import stat
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePath, PureWindowsPath
from typing import BinaryIO, TypeVar

from practice_client.core.errors import InputError

log = logging.getLogger(__name__)


def read_bounded(path: Path, limit: int, what: str) -> bytes:
    """The file's bytes, or InputError "cannot read the WHAT" / "too large for a WHAT"."""
    try:
        with open(path, "rb") as handle:
            data = handle.read(limit + 1)
    except OSError as exc:
        raise InputError(path, f"cannot read the {what}: {exc.strerror}") from None
    if len(data) > limit:
        raise InputError(path, f"too large for a {what}")
    return data


def open_regular(path: Path) -> BinaryIO:
    """Open for reading without following a link (one swapped in after a check) or
    blocking on a FIFO; anything but a regular file is an OSError."""
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    fd = os.open(path, flags | getattr(os, "O_BINARY", 0))
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise OSError(errno.EINVAL, "not a regular file", str(path))
    return os.fdopen(fd, "rb")


# -- is a writer still at work? ------------------------------------------------------------

# CreateFileW's constants (winbase.h / winnt.h)
GENERIC_READ = 0x80000000
FILE_SHARE_READ = 0x00000001
FILE_SHARE_WRITE = 0x00000002
FILE_SHARE_DELETE = 0x00000004
OPEN_EXISTING = 3
FILE_ATTRIBUTE_NORMAL = 0x00000080
FILE_FLAG_OPEN_REPARSE_POINT = 0x00200000
ERROR_SHARING_VIOLATION = 32


@dataclass(frozen=True)
class CreateFileArgs:
    """The arguments of one ``CreateFileW`` call (security attributes and template: NULL)."""

    path: str
    access: int
    share: int
    disposition: int
    flags: int


def exclusive_read_args(path: PurePath) -> CreateFileArgs:
    r"""Open for reading, sharing with readers only, never following a reparse point.

    ``FILE_SHARE_READ`` alone is the point: Windows then refuses the open with a sharing
    violation while any other process holds the file open for writing (or deleting),
    even when that writer allowed others to read - which ``os.open`` (the CRT shares
    read *and* write) never notices. Absolute paths get the ``\\?\`` prefix, so a
    deep PMS export folder is not cut at 260 characters."""
    text, long_prefix = str(PureWindowsPath(path)), "\\\\?\\"
    if text.startswith("\\\\") and not text.startswith(long_prefix):  # \\server\share
        text = long_prefix + "UNC" + text[1:]
    elif PureWindowsPath(text).is_absolute() and not text.startswith(long_prefix):
        text = long_prefix + text
    return CreateFileArgs(text, GENERIC_READ, FILE_SHARE_READ, OPEN_EXISTING,
                          FILE_ATTRIBUTE_NORMAL | FILE_FLAG_OPEN_REPARSE_POINT)


Opener = Callable[[CreateFileArgs], int]
"""Makes the call; returns 0 when the file could be opened (and closed it again),
else the Windows error code."""


@functools.cache
def _kernel32_opener() -> Opener:  # pragma: no cover - Windows only
    import ctypes
    from ctypes import wintypes

    kernel32 = ctypes.WinDLL("kernel32", use_last_error=True)  # type: ignore[attr-defined,unused-ignore]
    create = kernel32.CreateFileW
    create.argtypes = [wintypes.LPCWSTR, wintypes.DWORD, wintypes.DWORD, wintypes.LPVOID,
                       wintypes.DWORD, wintypes.DWORD, wintypes.HANDLE]
    create.restype = wintypes.HANDLE
    close = kernel32.CloseHandle
    close.argtypes = [wintypes.HANDLE]
    close.restype = wintypes.BOOL
    invalid = ctypes.c_void_p(-1).value

    def call(args: CreateFileArgs) -> int:
        handle = create(args.path, args.access, args.share, None, args.disposition, args.flags, None)
        if handle is None or handle == invalid:
            return int(ctypes.get_last_error()) or -1  # type: ignore[attr-defined,unused-ignore]
        close(handle)
        return 0

    return call


def windows_openable(path: PurePath, opener: Opener) -> bool:
    """True when no other process holds ``path`` open for writing (Windows rules)."""
    error = opener(exclusive_read_args(path))
    if error == ERROR_SHARING_VIOLATION:
        log.debug("a writer still holds an export file open")
    return error == 0


def posix_openable(path: Path) -> bool:
    """POSIX cannot see other writers: only that the file can be opened now (the
    watcher's close events and size/mtime rule judge completeness)."""
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(path, flags)
    except OSError:
        return False
    os.close(fd)
    return True


def openable(path: Path) -> bool:
    """A regular file we can open for reading now - on Windows only when no process
    holds it open for writing (a PMS still writing it, read-sharing or not)."""
    if sys.platform == "win32":  # pragma: no cover - Windows only
        return windows_openable(path, _kernel32_opener())
    return posix_openable(path)


# -- folders others can write to ------------------------------------------------------------

_O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_O_DIRECTORY = getattr(os, "O_DIRECTORY", 0)
_O_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_REPARSE_POINT = getattr(stat, "FILE_ATTRIBUTE_REPARSE_POINT", 0x400)
COPY_CHUNK = 1024 * 1024
NOT_A_FOLDER = (errno.ELOOP, errno.ENOTDIR, errno.EMLINK)  # a link (or a file) where a folder was expected

Identity = tuple[int, int]
_T = TypeVar("_T")


def dir_handles_available() -> bool:
    """Can this OS address files relative to open directory handles (``openat`` & co.)?"""
    needed = {os.open, os.stat, os.link, os.rename, os.unlink, os.mkdir}  # os.replace goes with os.rename
    return bool(_O_DIRECTORY and _O_NOFOLLOW) and needed <= os.supports_dir_fd


def _folder_problem(st: os.stat_result) -> bool:
    """True for anything but a plain folder: links, Windows junctions (reparse points), files."""
    return (not stat.S_ISDIR(st.st_mode) or stat.S_ISLNK(st.st_mode)
            or bool(getattr(st, "st_file_attributes", 0) & _REPARSE_POINT))


class Folder:
    """A folder reached from a trusted root without following a link in any component.

    ``O_NOFOLLOW`` on a file guards only the last component of its path: every folder
    on the way can be swapped for a link (to a private folder of the user the client runs
    as) between a check and the use. So paths below the export folder are never used
    as paths. Where the OS has directory handles, each component is opened with
    ``O_DIRECTORY | O_NOFOLLOW`` relative to the one before, and every operation is
    relative to the last handle (``openat``, ``linkat``, ``renameat``, ``unlinkat``): a
    folder swapped after the walk changes nothing, the handle still is the folder that
    was checked. Elsewhere (Windows) the identity (device, inode) of every component is
    checked before and after each operation; an operation that raced with a swap is
    undone where it can be (a new link or name removed, a rename reverted) and raises.

    The root itself (the configured export folder, the home's spool) may be a link: that
    is the administrator's choice, not an attacker's. Use as a context manager.
    """

    use_handles = dir_handles_available()  # tests switch it off to run the other strategy

    def __init__(self, path: Path, fd: int | None, chain: tuple[tuple[Path, Identity], ...]) -> None:
        self.path = path
        self.fd = fd
        self._chain = chain

    # -- opening -------------------------------------------------------------------------

    @classmethod
    def root(cls, path: Path, create: bool = False) -> Folder:
        path = Path(os.path.abspath(path))
        if create:
            path.mkdir(parents=True, exist_ok=True)
        if cls.use_handles:
            return cls(path, os.open(path, os.O_RDONLY | _O_DIRECTORY | _O_CLOEXEC), ())
        st = os.stat(path)
        if not stat.S_ISDIR(st.st_mode):
            raise OSError(errno.ENOTDIR, "not a folder", str(path))
        return cls(path, None, ((path, (st.st_dev, st.st_ino)),))

    def child(self, name: str, create: bool = False, mode: int = 0o700) -> Folder:
        """The sub-folder ``name``; a link, junction or file there is an OSError (ELOOP/ENOTDIR)."""
        _plain_name(name)
        if create:
            with contextlib.suppress(FileExistsError):
                self._call(lambda: os.mkdir(self._ref(name), mode, **self._at()))
        if self.fd is not None:
            fd = os.open(name, os.O_RDONLY | _O_DIRECTORY | _O_NOFOLLOW | _O_CLOEXEC, dir_fd=self.fd)
            return Folder(self.path / name, fd, ())
        self._check()
        path = self.path / name
        st = os.lstat(path)
        if _folder_problem(st):
            raise OSError(errno.ELOOP, "not a plain folder", str(path))
        return Folder(path, None, (*self._chain, (path, (st.st_dev, st.st_ino))))

    def walk(self, parts: tuple[str, ...] | list[str], create: bool = False) -> Folder:
        """The folder ``parts`` below this one (a new handle; this one stays open)."""
        folder = self.child(parts[0], create) if parts else self.child(".")
        for part in parts[1:]:
            with folder:
                folder = folder.child(part, create)
        return folder

    # -- entries ---------------------------------------------------------------------------

    def lstat(self, name: str) -> os.stat_result:
        return self._call(lambda: os.stat(self._ref(name), follow_symlinks=False, **self._at()))

    def exists(self, name: str) -> bool:
        try:
            self.lstat(name)
        except FileNotFoundError:
            return False
        return True

    def listing(self) -> list[tuple[str, bool]]:
        """(name, is a plain folder) for every entry; a link is never a folder here."""
        def read() -> list[tuple[str, bool]]:
            with os.scandir(self.fd if self.fd is not None else self.path) as entries:
                return [(e.name, e.is_dir(follow_symlinks=False) and not e.is_junction()) for e in entries]
        return self._call(read)

    def open_file(self, name: str) -> BinaryIO:
        """Open a regular file for reading (no link followed, no FIFO blocking)."""
        flags = os.O_RDONLY | _O_NOFOLLOW | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0) | _O_CLOEXEC
        self._check()
        fd = os.open(self._ref(name), flags, **self._at())
        try:
            self._check()
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise OSError(errno.EINVAL, "not a regular file", name)
        except BaseException:
            os.close(fd)
            raise
        return os.fdopen(fd, "rb")

    def unlink(self, name: str) -> None:
        self._call(lambda: os.unlink(self._ref(name), **self._at()))

    def link(self, name: str, target: Folder, target_name: str) -> None:
        """A second name for the entry (never through a link); fails if the target exists."""
        self._two(target, lambda: os.link(self._ref(name), target._ref(target_name), follow_symlinks=False,
                                          **self._at("src_dir_fd"), **target._at("dst_dir_fd")),
                  undo=lambda: target.unlink(target_name))

    def rename(self, name: str, target: Folder, target_name: str) -> None:
        """Move the entry (a link is moved itself, never its target). Replaces nothing: an
        existing target is FileExistsError (checked just before; the folders are ours)."""
        if target.exists(target_name):
            raise FileExistsError(errno.EEXIST, "target exists", target_name)
        self._two(target, lambda: os.rename(self._ref(name), target._ref(target_name),
                                            **self._at("src_dir_fd"), **target._at("dst_dir_fd")),
                  undo=lambda: os.rename(target._ref(target_name), self._ref(name)))

    def copy_in(self, source: BinaryIO, name: str, mode: int = 0o600, replace: bool = False) -> None:
        """Write ``source`` to the file ``name`` here: under a temporary name, fsynced, then
        renamed (a half-written file is never visible); nothing is left behind on failure.
        Without ``replace`` an existing ``name`` is FileExistsError."""
        partial = f".{name[:100]}.{os.urandom(4).hex()}.tmp"
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | _O_NOFOLLOW | getattr(os, "O_BINARY", 0) | _O_CLOEXEC
        fd = self._call(lambda: os.open(self._ref(partial), flags, mode, **self._at()))
        try:
            with os.fdopen(fd, "wb") as out:
                while chunk := source.read(COPY_CHUNK):
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            if replace:
                self._call(lambda: os.replace(self._ref(partial), self._ref(name),
                                              **self._at("src_dir_fd"), **self._at("dst_dir_fd")))
            else:
                self.rename(partial, self, name)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                self.unlink(partial)
            raise
        self.fsync()

    def write_file(self, name: str, data: bytes, mode: int = 0o600) -> None:
        """Replace ``name`` with ``data`` atomically (temp file + fsync + rename, never through a link)."""
        self.copy_in(io.BytesIO(data), name, mode, replace=True)

    def fsync(self) -> None:
        """Persist renames in this folder (no-op where folders cannot be opened)."""
        if self.fd is not None:
            os.fsync(self.fd)
        elif os.name == "posix":
            fsync_fd = os.open(self.path, os.O_RDONLY)
            try:
                os.fsync(fsync_fd)
            finally:
                os.close(fsync_fd)

    # -- plumbing ----------------------------------------------------------------------------

    def _ref(self, name: str) -> str:
        _plain_name(name)
        return name if self.fd is not None else str(self.path / name)

    def _at(self, keyword: str = "dir_fd") -> dict[str, int]:
        return {keyword: self.fd} if self.fd is not None else {}

    def _check(self) -> None:
        """Without handles: every component still the folder that was walked (no link)."""
        for index, (path, identity) in enumerate(self._chain):
            st = os.stat(path) if index == 0 else os.lstat(path)
            if (st.st_dev, st.st_ino) != identity or (index > 0 and _folder_problem(st)):
                raise OSError(errno.ELOOP, "a folder on the way was replaced", str(path))

    def _call(self, operation: Callable[[], _T]) -> _T:
        self._check()
        result = operation()
        self._check()  # the entry was read or removed in a folder swapped meanwhile: say so
        return result

    def _two(self, target: Folder, operation: Callable[[], object], undo: Callable[[], object]) -> None:
        self._check()
        target._check()
        operation()
        try:
            self._check()
            target._check()
        except OSError:
            with contextlib.suppress(OSError):
                undo()
            raise

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None

    def __enter__(self) -> Folder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _plain_name(name: str) -> None:
    """A single entry name: never a path that would leave the folder."""
    if name != "." and (not name or "/" in name or "\\" in name or name == ".." or "\x00" in name):
        raise OSError(errno.EINVAL, "not a plain file name", name)
