"""A watched folder of request e-mails saved from the mail program (``.eml``, Outlook ``.msg``).

A file is handed to the inbox (stored durably) and only then moved to
``processed/`` below the folder, so a crash in between at worst re-reads a file
the inbox already has (de-duplicated by hash). Only regular files are taken:
symlinks are never followed. Files larger than :data:`MAX_FILE_BYTES`, and ``.msg``
files that are not readable Outlook messages, go to ``failed/`` with a reason file.
An Outlook ``.msg`` is verified as :mod:`~practice_client.intake.mail_file` describes
(DKIM not checkable: never *verified*). watchdog wakes the loop
early; a periodic rescan catches what events miss (network shares).
"""

from __future__ import annotations

import logging
import os
import stat
import uuid
from pathlib import Path

from practice_client.core.atomic import atomic_write, fsync_dir
from practice_client.core.errors import InputError
from practice_client.core.files import open_regular
from practice_client.intake.mail_file import MAX_FILE_BYTES, is_mail_file, mail_from_bytes
from practice_client.intake.sources import Deliver, Settle, Stop, Wake

log = logging.getLogger(__name__)

PROCESSED = "processed"
FAILED = "failed"


class FolderSource:
    """A folder (``eml_dir`` of the config) as a request source."""

    talks_to_platform = False

    def __init__(self, directory: Path, *, deliver: Deliver, settle: Settle) -> None:
        self.directory = directory
        self._deliver = deliver
        self._settle = settle

    def poll_once(self) -> int:
        """Take every complete mail file once; returns the number of new requests."""
        recorded = 0
        for path in self._candidates():
            try:
                info = path.lstat()
                if not stat.S_ISREG(info.st_mode):
                    continue
                if info.st_size > MAX_FILE_BYTES:
                    self._move(path, FAILED, reason="too large for a request message")
                    continue
                with open_regular(path) as handle:  # never a link swapped in after the check
                    data = handle.read(MAX_FILE_BYTES + 1)
            except OSError as exc:
                log.info("mail file %s not taken yet: %s", _file_id(path), type(exc).__name__)
                continue
            try:
                mail = mail_from_bytes(path, data)
            except InputError:
                self._move(path, FAILED, reason="not a readable Outlook message (.msg)")
                continue
            recorded += self._deliver(mail.raw, mail.source("folder"))
            self._move(path, PROCESSED)
        return recorded + self._settle()

    def report(self) -> int:
        return 0  # nothing goes back to a folder

    def _candidates(self) -> list[Path]:
        try:
            entries = sorted(self.directory.iterdir())
        except FileNotFoundError:
            return []
        return [p for p in entries if is_mail_file(p)]

    def _move(self, path: Path, sub: str, reason: str | None = None) -> None:
        target_dir = self.directory / sub
        target_dir.mkdir(exist_ok=True)
        target = target_dir / path.name
        if target.exists():
            target = target_dir / f"{path.stem}.{uuid.uuid4().hex[:8]}{path.suffix}"
        os.replace(path, target)
        if reason:
            atomic_write(target.with_name(target.name + ".reason.txt"), (reason + "\n").encode())
        fsync_dir(target_dir)
        fsync_dir(self.directory)

    # -- watching ---------------------------------------------------------------------

    def start_watching(self, wake: Wake) -> Stop:
        """Call ``wake`` on every file event in the folder (watchdog); returns a stop function.

        The agent passes its ``poll_now``; the periodic poll stays the safety net."""
        from watchdog.events import FileSystemEvent, FileSystemEventHandler
        from watchdog.observers import Observer

        class _Handler(FileSystemEventHandler):
            def on_any_event(self, event: FileSystemEvent) -> None:
                wake()

        self.directory.mkdir(parents=True, exist_ok=True)
        observer = Observer()
        observer.schedule(_Handler(), str(self.directory), recursive=False)
        observer.start()

        def stop() -> None:
            observer.stop()
            observer.join(timeout=5)

        return stop


def _file_id(path: Path) -> str:
    """Logs name files by a short hash, never by their (possibly personal) name."""
    import hashlib

    return hashlib.sha256(path.name.encode("utf-8", "replace")).hexdigest()[:12]
