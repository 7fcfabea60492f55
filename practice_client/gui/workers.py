"""Running blocking work (crypto, network, disk) off the GUI thread.

A :class:`Job` wraps one plain Python callable in a ``QRunnable`` for the global
``QThreadPool``. It talks back only through its :class:`JobSignals`, an object
created in (and owned by) the GUI thread, so every emission from the worker
thread is delivered as a *queued* call in the GUI thread: no widget is ever
touched from a worker. Jobs are never killed; shutdown waits for the pool
(``QThreadPool.waitForDone``), which is why every job must finish on its own.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal

from practice_client.core.errors import PracticeClientError
from practice_client.core.text import Text
from practice_client.gui.i18n import current_language

log = logging.getLogger(__name__)


class JobSignals(QObject):
    """The job's voice in the GUI thread. ``finished`` always follows ``done`` or ``failed``."""

    done = Signal(object)
    failed = Signal(str)
    finished = Signal()


class Job(QRunnable):
    """One call of ``fn`` in the thread pool. Typed errors become their one-line message in
    the GUI's language (``err.text.pick``, never ``str(err)``, which holds both); anything
    else is logged (with its traceback, identifiers only) as an internal error."""

    def __init__(self, name: str, fn: Callable[[], Any]) -> None:
        super().__init__()
        self.name = name
        self.signals = JobSignals()
        self._fn = fn
        self.setAutoDelete(True)

    def run(self) -> None:  # runs in a worker thread: emit only, touch nothing else
        try:
            result = self._fn()
        except PracticeClientError as exc:
            log.info("job %s failed: %s", self.name, type(exc).__name__)
            self.signals.failed.emit(exc.text.pick(current_language()))
        except Exception as exc:  # the edge of a worker: report, never crash the pool
            log.exception("job %s: unexpected error", self.name)
            self.signals.failed.emit(Text(
                f"interner Fehler ({type(exc).__name__}); Einzelheiten stehen in der Protokolldatei",
                f"internal error ({type(exc).__name__}); details are in the log file",
            ).pick(current_language()))
        else:
            self.signals.done.emit(result)
        self.signals.finished.emit()


class Workers(QObject):
    """Starts jobs and counts the running ones (for the busy indicator and for tests)."""

    busyChanged = Signal(bool)

    def __init__(self, pool: QThreadPool | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.pool = pool or QThreadPool.globalInstance()
        self._running = 0
        self._jobs: set[Job] = set()

    def start(
        self,
        name: str,
        fn: Callable[[], Any],
        on_done: Callable[[Any], None] | None = None,
        on_failed: Callable[[str], None] | None = None,
        on_finished: Callable[[], None] | None = None,
    ) -> Job:
        """Run ``fn`` in the pool; ``on_done(result)`` / ``on_failed(message)``, then
        ``on_finished()``, run in the GUI thread (connected before the job starts)."""
        job = Job(name, fn)
        if on_done is not None:
            job.signals.done.connect(on_done)
        if on_failed is not None:
            job.signals.failed.connect(on_failed)
        if on_finished is not None:
            job.signals.finished.connect(on_finished)
        job.signals.finished.connect(lambda: self._finished(job))
        self._jobs.add(job)  # keep the Python wrapper (and its signals) alive until finished
        self._running += 1
        if self._running == 1:
            self.busyChanged.emit(True)
        self.pool.start(job)
        return job

    @property
    def busy(self) -> bool:
        return self._running > 0

    def _finished(self, job: Job) -> None:
        self._jobs.discard(job)
        self._running -= 1
        if self._running == 0:
            self.busyChanged.emit(False)

    def wait(self, msecs: int = 30000) -> bool:
        """Clean shutdown: let running jobs end (never terminate a thread)."""
        return bool(self.pool.waitForDone(msecs))
