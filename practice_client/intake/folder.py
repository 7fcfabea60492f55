"""A watched folder of ``.eml`` files (request e-mails saved from the mail program).

A file is handed to the inbox (stored durably) and only then moved to
``processed/`` below the folder, so a crash in between at worst re-reads a file
the inbox already has (de-duplicated by hash). Only regular files are taken:
symlinks are never followed. Files larger than :data:`MAX_FILE_BYTES` go to
``failed/`` with a reason file instead of being read. watchdog wakes the loop
early; a periodic rescan catches what events miss (network shares).
"""

from __future__ import annotations

import logging
import os
import stat
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from practice_client.core.atomic import atomic_write, fsync_dir
from practice_client.core.files import open_regular
from practice_client.core.store import MAX_MESSAGE_BYTES

if TYPE_CHECKING:
    from practice_client.context import Context
    from practice_client.intake.inbox import Inbox

log = logging.getLogger(__name__)

MAX_FILE_BYTES = 4 * MAX_MESSAGE_BYTES
PROCESSED = "processed"
FAILED = "failed"


class FolderSource:
    """``eml_dir`` of the config as a request source."""

    def __init__(self, ctx: Context, inbox: Inbox, directory: Path | None = None) -> None:
        self.inbox = inbox
        self.directory = Path(directory or ctx.config.eml_dir)

    def poll_once(self) -> int:
        """Take every complete ``.eml`` file once; returns the number of new requests."""
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
                    raw = handle.read(MAX_FILE_BYTES + 1)
            except OSError as exc:
                log.info("eml file %s not taken yet: %s", _file_id(path), type(exc).__name__)
                continue
            recorded += self.inbox.receive(raw, "folder")
            self._move(path, PROCESSED)
        return recorded + self.inbox.process_pending()

    def _candidates(self) -> list[Path]:
        try:
            entries = sorted(self.directory.iterdir())
        except FileNotFoundError:
            return []
        return [p for p in entries if p.suffix.lower() == ".eml" and not p.name.startswith(".")]

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

    def start_watching(self, wake: Callable[[], None]) -> Callable[[], None]:
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
