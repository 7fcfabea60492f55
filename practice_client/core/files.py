"""Reading input files the user or the PMS hands over: bounded, one-line errors.

Every file the client parses (trust certificates, master data, sidecars, key
backups) is read whole but never beyond a limit, so a huge or endless file
(a FIFO, /dev/zero) cannot exhaust memory, and a read error names the file.
Files taken from folders others can write to are opened with :func:`open_regular`;
whether a writer still holds one is asked with :func:`openable`.
"""

from __future__ import annotations

import errno
import functools
import logging
import os
import stat
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePath, PureWindowsPath
from typing import BinaryIO

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
