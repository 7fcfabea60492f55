"""Reading input files the user or the PMS hands over: bounded, one-line errors.

Every file the client parses (trust certificates, master data, sidecars, key
backups) is read whole but never beyond a limit, so a huge or endless file
(a FIFO, /dev/zero) cannot exhaust memory, and a read error names the file.
"""

from __future__ import annotations

from pathlib import Path

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
