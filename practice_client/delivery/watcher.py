"""The export folder: watchdog events plus a periodic full rescan.

The PMS writes files at its own pace, sometimes onto a network share that loses
events. So a file is a *candidate* when an event or a rescan sees it, and it is
handed on (``on_ready``) only when complete:

- closed after writing (inotify ``IN_CLOSE_WRITE`` -> watchdog ``on_closed``), or
  renamed into place (from a temporary name, or with inotify from outside the folder),
  or size and mtime unchanged for ``stable_seconds``;
- and openable for reading (on Windows: no other process holds it open for writing,
  :func:`practice_client.core.files.openable`).

Temporary names (``.part``, ``.tmp``, ``~$...``, dot files) wait until renamed;
GDT files travel with their document and are never documents themselves. A
document's GDT record (its sidecar, or a GDT file whose 6305 names it) must be
complete too before the document is handed on; and a document that would go
unassigned without one waits up to ``sidecar_grace`` seconds for it - woken by the
GDT file's own events, so it goes on the moment the record is there.
The client's own ``processed/`` and ``failed/`` folders are not watched. Entries
that are not regular files are handed on too - the outbox refuses and reports
them; nothing here ever follows a link or opens anything but a regular file.
"""

from __future__ import annotations

import contextlib
import logging
import os
import stat
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer
from watchdog.observers.api import BaseObserver

from practice_client.core.files import NOT_A_FOLDER, Folder
from practice_client.core.files import openable as no_writer_at_work
from practice_client.delivery.names import is_sidecar, is_temporary
from practice_client.delivery.sidecar import folder_index, records_for
from practice_client.delivery.spool import OWN_FOLDERS

log = logging.getLogger(__name__)

FALLBACK_RESCAN_SECONDS = 2.0


@dataclass
class _Seen:
    size: int
    mtime_ns: int
    since: float  # monotonic time the size/mtime were first seen unchanged
    closed: bool | None  # True: closed after writing; False: a writer is at work; None: no events
    gdt: bool = False  # a GDT file: complete is all it must be, it is never handed on
    ready_since: float | None = None  # a document complete, waiting for its GDT record since
    wants_record: bool | None = None  # asked once: would it go unassigned without one?


def relative_parts(export: Path, path: Path) -> tuple[str, ...] | None:
    """``path`` below ``export`` as parts, or ``None`` when outside or in an own folder."""
    try:
        parts = path.relative_to(export).parts
    except ValueError:
        return None
    if not parts or parts[0] in OWN_FOLDERS:
        return None
    return parts


def ignored(export: Path, path: Path) -> bool:
    """Not a candidate at all: outside, in an own folder, or a temporary name."""
    parts = relative_parts(export, path)
    if parts is None:
        return True
    return any(is_temporary(p) for p in parts)


def scan(export: Path) -> Iterator[Path]:
    """Every entry below ``export`` (never through a link), own folders left out.

    Folders are opened as handles without following links (:class:`Folder`), so one
    swapped for a link while the scan runs is not descended: it is reported as an entry
    itself, which the outbox refuses. Links of any kind are entries, never folders."""
    with Folder.root(export) as root:
        yield from _scan(root, export, top=True)


def _scan(folder: Folder, path: Path, top: bool) -> Iterator[Path]:
    try:
        listing = folder.listing()
    except OSError:
        if top:
            raise
        return  # gone, or (without handles) swapped for a link while it was listed
    for name, is_folder in listing:
        if top and name in OWN_FOLDERS:
            continue
        if not is_folder:
            yield path / name
            continue
        try:
            child = folder.child(name)
        except OSError as exc:
            if exc.errno in NOT_A_FOLDER:
                yield path / name  # swapped for a link since the listing: refused as an entry
            continue
        with child:
            yield from _scan(child, path / name, top=False)


def _entry(export: Path, path: Path) -> tuple[Folder, str]:
    """The handle of the folder holding ``path`` (walked from ``export`` without following
    links) and the entry's name."""
    parts = path.relative_to(export).parts
    with Folder.root(export) as root:
        return root.walk(parts[:-1]), parts[-1]


def openable(export: Path, path: Path) -> bool:
    """A regular file we can open for reading now (Windows: no sharing violation), reached
    without following a link anywhere on the way."""
    try:
        parent, name = _entry(export, path)
        with parent, parent.open_file(name):
            pass
    except OSError:
        return False
    # Windows: opened once more with a share mode that denies writers - a PMS still writing
    # is a sharing violation there; POSIX cannot see other writers (close events and the
    # size/mtime rule judge), and the open above was the check
    return sys.platform != "win32" or no_writer_at_work(path)


def _observer() -> BaseObserver:
    """With inotify, a file renamed in from outside the folder is reported as moved (a
    rename says "complete") instead of created (then it waited ``stable_seconds``)."""
    if sys.platform.startswith("linux"):
        from watchdog.observers.inotify import InotifyObserver

        return InotifyObserver(generate_full_events=True)
    return Observer()


class _Handler(FileSystemEventHandler):
    def __init__(self, watcher: Watcher) -> None:
        self._watcher = watcher

    def on_created(self, event: FileSystemEvent) -> None:
        # Created says nothing about writers (a file moved in from elsewhere is complete);
        # a write that follows reports itself as modified.
        if not event.is_directory:
            self._watcher.candidate(Path(os.fsdecode(event.src_path)))
        else:  # a new request folder may already hold files (moved in whole)
            self._watcher.wake(rescan=True)

    def on_modified(self, event: FileSystemEvent) -> None:
        if not event.is_directory:
            self._watcher.candidate(Path(os.fsdecode(event.src_path)), closed=False)

    def on_closed(self, event: FileSystemEvent) -> None:
        if not event.is_directory:
            self._watcher.candidate(Path(os.fsdecode(event.src_path)), closed=True)

    def on_moved(self, event: FileSystemEvent) -> None:
        # ``x.part`` renamed to ``x``, or (inotify) a file renamed in from outside the folder:
        # the new name is a candidate; a moved folder is rescanned.
        if event.is_directory:
            self._watcher.wake(rescan=True)
        elif not event.dest_path:
            return  # renamed out of the folder: nothing to deliver
        else:
            # A rename is how careful writers say "complete".
            self._watcher.candidate(Path(os.fsdecode(event.dest_path)), closed=True)


class Watcher:
    """Watches one export folder; calls ``on_ready(path)`` once per complete file.

    ``on_ready`` is called from the watcher's own thread, one file at a time; it
    must move the file away (into the client's spool or ``failed/``) before it
    returns, otherwise the next rescan offers it again.
    """

    def __init__(
        self,
        export: Path,
        on_ready: Callable[[Path], None],
        stable_seconds: float,
        rescan_seconds: float,
        sidecar_grace: float = 0.0,
        wants_record: Callable[[Path], bool] | None = None,
    ) -> None:
        """``wants_record(path)``: True when the document would go unassigned without a
        GDT record (called from the watcher's thread); it then waits ``sidecar_grace``."""
        self.export = Path(os.path.abspath(export))
        self._on_ready = on_ready
        self._stable = max(0.0, stable_seconds)
        self._rescan = max(0.5, rescan_seconds)
        self._grace = max(0.0, sidecar_grace)
        self._wants_record = wants_record
        self._seen: dict[Path, _Seen] = {}
        self._gdt_ready: set[Path] = set()  # GDT files complete, waiting for their document
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._rescan_now = True
        self._observer: BaseObserver | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------

    def start(self) -> None:
        self.export.mkdir(parents=True, exist_ok=True)
        observer = _observer()
        try:
            observer.schedule(_Handler(self), str(self.export), recursive=True)
            observer.daemon = True
            observer.start()
            self._observer = observer
        except OSError as exc:
            # e.g. the per-user inotify limit is used up: rescans alone still find every file
            log.warning("export folder events unavailable (errno %s): rescanning every %.0f s instead",
                        exc.errno, FALLBACK_RESCAN_SECONDS)
            self._rescan = min(self._rescan, FALLBACK_RESCAN_SECONDS)
        self._thread = threading.Thread(target=self._run, name="export-watcher", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._observer is not None:
            self._observer.stop()
            self._observer.join(timeout=10)
        if self._thread is not None:
            self._thread.join(timeout=30)

    def wake(self, rescan: bool = False) -> None:
        if rescan:
            self._rescan_now = True
        self._wake.set()

    # -- events ------------------------------------------------------------------

    def candidate(self, path: Path, closed: bool | None = None) -> None:
        """Called from watchdog's thread (``closed`` True after close-write, False after a
        write) and from rescans (``None``: no news about writers): remember, check later."""
        if ignored(self.export, path):
            return
        gdt = is_sidecar(path.name)
        with self._lock:
            if gdt and closed is None and path in self._gdt_ready:
                return  # a rescan: nothing new about a complete GDT file
            if gdt:
                self._gdt_ready.discard(path)  # written again: complete once more before it counts
            seen = self._seen.get(path)
            if seen is None:
                self._seen[path] = _Seen(-1, -1, time.monotonic(), closed, gdt)
            elif closed is not None:
                seen.closed = closed
        self._wake.set()

    # -- the loop ----------------------------------------------------------------

    def _run(self) -> None:
        next_rescan = time.monotonic()
        while not self._stop.is_set():
            now = time.monotonic()
            if self._rescan_now or now >= next_rescan:
                self._rescan_now = False
                next_rescan = now + self._rescan
                with self._lock:  # GDT files taken with their document (or deleted) are gone
                    self._gdt_ready = {p for p in self._gdt_ready if os.path.lexists(p)}
                with contextlib.suppress(OSError):
                    for path in scan(self.export):
                        self.candidate(path)
            wait = self._check_candidates()
            self._wake.wait(timeout=min(wait, max(0.0, next_rescan - time.monotonic())))
            self._wake.clear()

    def _check_candidates(self) -> float:
        """Hand on what is complete; return how long until the next check is due."""
        with self._lock:
            items = list(self._seen.items())
        next_due = self._rescan
        indexes: dict[Path, dict[str, list[Path]]] = {}  # one listing per folder and pass
        for path, seen in items:
            if self._stop.is_set():
                break
            ready, due = self._ready(path, seen)
            if ready is None:
                with self._lock:
                    self._seen.pop(path, None)
                continue
            if not ready:
                next_due = min(next_due, due)
                continue
            if seen.gdt:
                with self._lock:
                    self._seen.pop(path, None)
                    self._gdt_ready.add(path)
                next_due = 0.0  # a document may be waiting for exactly this record
                continue
            wait = self._record_wait(path, seen, indexes)
            if wait > 0:
                next_due = min(next_due, wait)
                continue
            with self._lock:
                self._seen.pop(path, None)
            try:
                self._on_ready(path)
            except Exception as exc:  # one bad file must never stop the watcher
                # type and errno only: messages of file errors carry the (patient's) file name
                log.error("export watcher: handling a file failed (%s %s)", type(exc).__name__,
                          getattr(exc, "errno", "") or "")
        return max(0.05, next_due) if next_due > 0 else 0.0

    def _record_wait(self, path: Path, seen: _Seen, indexes: dict[Path, dict[str, list[Path]]]) -> float:
        """Seconds a complete document still waits for its GDT record (0: hand it on).
        Only with a grace period: for a record that is still being written, or - when
        the document would go unassigned without one - for a record not there yet."""
        if self._grace <= 0:
            return 0.0
        now = time.monotonic()
        if seen.ready_since is None:
            seen.ready_since = now
        remaining = self._grace - (now - seen.ready_since)
        if remaining <= 0:
            return 0.0
        if path.parent not in indexes:
            indexes[path.parent] = folder_index(path.parent)
        records = records_for(path, indexes[path.parent])
        with self._lock:
            pending = [r for r in records if r not in self._gdt_ready]
            unseen = [r for r in pending if r not in self._seen]
        for record in unseen:
            self.candidate(record)  # found before its own events (or a rescan): watch it
        if records:
            return remaining if pending else 0.0
        if seen.wants_record is None:
            seen.wants_record = self._wants_record is not None and self._wants_record(path)
        return remaining if seen.wants_record else 0.0

    def _ready(self, path: Path, seen: _Seen) -> tuple[bool | None, float]:
        """(True, _) ready; (False, seconds) not yet; (None, _) gone - or below a folder that
        was swapped for a link (the scan reports that link itself, to be refused)."""
        try:
            parent, name = _entry(self.export, path)
            with parent:
                st = parent.lstat(name)
        except FileNotFoundError:
            return None, 0.0
        except OSError as exc:
            return (None, 0.0) if exc.errno in NOT_A_FOLDER else (False, self._stable or 0.5)
        if not stat.S_ISREG(st.st_mode):
            return True, 0.0  # refused by the outbox, with a reason
        now = time.monotonic()
        if (st.st_size, st.st_mtime_ns) != (seen.size, seen.mtime_ns):
            seen.size, seen.mtime_ns, seen.since = st.st_size, st.st_mtime_ns, now
        # A writer still at work (write events, no close yet) gets a long grace period
        # before size/mtime stability alone counts: its close event may have been lost.
        needed = self._stable if seen.closed is None else self._stable * 10 + 30.0
        stable = seen.closed is True or now - seen.since >= needed
        if not stable:
            return False, needed - (now - seen.since)
        if not openable(self.export, path):
            return False, max(self._stable, 0.5)
        return True, 0.0
