"""Reading input files the user or the PMS hands over: bounded, one-line errors.

Every file the client parses (trust certificates, master data, sidecars, key
backups) is read whole but never beyond a limit, so a huge or endless file
(a FIFO, /dev/zero) cannot exhaust memory, and a read error names the file.
Files taken from folders others can write to are opened with :func:`open_regular`.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path
from typing import BinaryIO

from practice_client.core.errors import InputError


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
