"""Files a workstation uploads for a command that comes after them (``files.add``).

A document may be far larger than a command's JSON body may be (``max_document_mb``,
default 500 MB), so a workstation does not send it inside a command: it streams each
file with ``PUT /v1/staged/<id>`` first (an id it chose at random, :data:`STAGED_ID`),
then names the ids in the command. Here those uploads are kept:

- in the service's own folder, one folder per workstation: a workstation claims only what
  it uploaded itself, and an id is never a path (anything but 32 lowercase hex digits is
  refused before a file is touched);
- written as they arrive to a temporary file (never held whole in memory), counted against
  a hard cap (the document limit; :data:`HARD_CAP` where the practice set none) and
  refused the moment they pass it; only a complete upload is renamed to its id, fsynced;
  a refused or broken one leaves nothing;
- used once: the command that claims them removes them, whatever its outcome; what no
  command claimed within :data:`MAX_AGE_SECONDS` (and a partial upload left by a crash) is
  removed by :meth:`Staging.sweep`, which the service runs at start and every few minutes.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import shutil
import stat
import time
from dataclasses import dataclass
from pathlib import Path

from practice_client.core.atomic import fsync_dir
from practice_client.core.config import Config
from practice_client.core.errors import InputError, PracticeClientError
from practice_client.core.paths import Home
from practice_client.core.text import Text
from practice_client.service.files import ServiceFiles

log = logging.getLogger(__name__)

STAGED_ID = re.compile(r"[0-9a-f]{32}")
_WORKSTATION_ID = re.compile(r"[0-9A-Za-z_-]{1,32}")
PARTIAL = ".part"
MAX_AGE_SECONDS = 3600.0
SWEEP_SECONDS = 300.0
HARD_CAP = 8 * 1024**3  # where the practice set no document limit (max_document_mb = 0)
MAX_PENDING = 64  # staged files one workstation may keep at a time
FREE_RESERVE = 256 * 1024**2  # the disk the service keeps free for its database and spool

_O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_O_BINARY = getattr(os, "O_BINARY", 0)


class StagingRefused(PracticeClientError):
    """An upload the service does not keep. ``status``: the HTTP status that says why."""

    def __init__(self, status: int, message: Text) -> None:
        super().__init__(message)
        self.status = status


def cap_for(config: Config) -> int:
    """The largest upload kept: the practice's document limit (a larger document would be
    refused by the outbox anyway), or :data:`HARD_CAP` where the practice set none."""
    limit = config.max_document_mb * 1024 * 1024
    return limit if limit > 0 else HARD_CAP


def valid_id(staged_id: str) -> str:
    if not STAGED_ID.fullmatch(staged_id):
        raise StagingRefused(400, Text(f"{staged_id[:40]!r}: keine gültige Upload-Kennung (32 Hex-Zeichen)",
                                       f"{staged_id[:40]!r}: not a valid upload id (32 hex digits)"))
    return staged_id


class Upload:
    """One upload in progress: :meth:`write` its chunks, then :meth:`finish` (the file
    appears under its id) or :meth:`abort` (nothing stays). Not thread-safe."""

    def __init__(self, folder: Path, staged_id: str, cap: int) -> None:
        self.target = folder / staged_id
        self.partial = folder / f".{staged_id}.{os.urandom(4).hex()}{PARTIAL}"
        self.cap = cap
        self.size = 0
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | _O_NOFOLLOW | _O_BINARY
        self._file = os.fdopen(os.open(self.partial, flags, 0o600), "wb")

    def write(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self.size > self.cap:
            self.abort()
            raise too_large(self.cap)
        self._file.write(chunk)

    def finish(self) -> int:
        """The complete upload under its id (replacing an earlier upload of the same id: a
        workstation that lost the answer sends it again); its size."""
        try:
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()
            os.replace(self.partial, self.target)
        except BaseException:
            self.abort()
            raise
        fsync_dir(self.target.parent)
        return self.size

    def abort(self) -> None:
        with contextlib.suppress(OSError):
            self._file.close()
        with contextlib.suppress(FileNotFoundError):
            self.partial.unlink()


def too_large(cap: int) -> StagingRefused:
    mb = cap // (1024 * 1024)
    return StagingRefused(413, Text(f"die Datei ist größer als die erlaubten {mb} MB (max_document_mb)",
                                    f"the file is larger than the {mb} MB allowed (max_document_mb)"))


@dataclass(frozen=True)
class Staging:
    """The service's staged uploads under ``folder`` (``<workstation id>/<staged id>``)."""

    folder: Path

    @classmethod
    def of(cls, home: Home) -> Staging:
        return cls(ServiceFiles(home).folder / "staged")

    def _own(self, workstation_id: str, create: bool = False) -> Path:
        if not _WORKSTATION_ID.fullmatch(workstation_id):
            raise ValueError("not a workstation id")
        folder = self.folder / workstation_id
        if create:
            self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            folder.mkdir(mode=0o700, exist_ok=True)
        return folder

    def begin(self, workstation_id: str, staged_id: str, cap: int, declared: int | None = None) -> Upload:
        """A new upload (refused at once when its declared length passes ``cap``, the
        workstation keeps :data:`MAX_PENDING` already, or the disk would fill up)."""
        valid_id(staged_id)
        if declared is not None and declared > cap:
            raise too_large(cap)
        folder = self._own(workstation_id, create=True)
        if sum(1 for _ in folder.iterdir()) >= MAX_PENDING:
            raise StagingRefused(429, Text(
                f"dieser Arbeitsplatz hat schon {MAX_PENDING} Dateien hochgeladen, die noch kein Befehl verwendet hat",
                f"this workstation has {MAX_PENDING} uploads no command has used yet"))
        if declared is not None and shutil.disk_usage(folder).free - declared < FREE_RESERVE:
            raise StagingRefused(507, Text("auf dem Praxis-Server ist nicht genug Platz für diese Datei",
                                           "the practice server has not enough disk space for this file"))
        return Upload(folder, staged_id, cap)

    def claim(self, workstation_id: str, staged_id: str, name: str) -> Path:
        """The complete upload ``staged_id`` of this workstation; InputError naming the file
        (``name``, as staff picked it) when there is none: never uploaded, by another
        workstation, used already, or swept."""
        try:
            path = self._own(workstation_id) / valid_id(staged_id)
            st = os.lstat(path)
        except (StagingRefused, OSError, ValueError):
            raise InputError(name, Text(
                "diese hochgeladene Datei gibt es beim Praxis-Dienst nicht (mehr): bitte erneut hinzufügen",
                "the practice service has no such upload (any more): please add the file again")) from None
        if not stat.S_ISREG(st.st_mode):
            raise InputError(name, Text("keine normale Datei", "not a regular file"))
        return path

    def discard(self, path: Path) -> None:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()

    def sweep(self, max_age: float = MAX_AGE_SECONDS, now: float | None = None) -> int:
        """Remove uploads (and partial ones) not touched for ``max_age`` seconds; how many."""
        moment = time.time() if now is None else now
        removed = 0
        if not self.folder.is_dir():
            return 0
        for folder in self.folder.iterdir():
            if not folder.is_dir() or folder.is_symlink():
                continue
            for entry in folder.iterdir():
                with contextlib.suppress(FileNotFoundError):
                    if moment - entry.lstat().st_mtime >= max_age:
                        entry.unlink()
                        removed += 1
        if removed:
            log.info("staged uploads: %d not used in time, removed", removed)
        return removed

