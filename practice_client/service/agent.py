"""The agent: intake sources, the export-folder watcher, the delivery pipeline and the
shares job (documents patients share: :mod:`practice_client.shares.job`), running
together until stopped.

``practice-client agent`` runs it headless; the GUI embeds the same object
in-process (``start()`` / ``stop()`` and an event callback, see
:mod:`practice_client.delivery.events`). Nothing here knows about Qt. It sits above
intake, delivery and shares (which never import each other): the sources come from
:mod:`practice_client.service.sources`, each a :class:`~practice_client.intake.sources.Source`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from practice_client.core.errors import NetworkError, PracticeClientError, StateError
from practice_client.core.models import Document
from practice_client.core.text import Text
from practice_client.crypto.patient_keys import scrub_home
from practice_client.delivery import outbox, retention
from practice_client.delivery.events import (
    Connected,
    Event,
    Failure,
    NewRequests,
    Offline,
    StateChanged,
)
from practice_client.delivery.locks import FileLock
from practice_client.delivery.pipeline import Pipeline
from practice_client.delivery.recipients import wants_record
from practice_client.delivery.spool import Spool
from practice_client.delivery.watcher import Watcher
from practice_client.intake.sources import Source
from practice_client.service.sources import configured_sources
from practice_client.shares.events import ShareEvent
from practice_client.shares.job import SharesJob

if TYPE_CHECKING:
    from practice_client.context import Context

log = logging.getLogger(__name__)

HOUSEKEEPING_SECONDS = 2.0  # pick up rows staff changed in another process

AgentEvent = Event | ShareEvent
"""What the agent tells its host: the delivery's kinds and the shares' (both tagged
unions of frozen dataclasses; a host ``match``es on the class)."""
AgentEventSink = Callable[[AgentEvent], None]


def ignore(event: AgentEvent) -> None:
    """The sink when nobody listens."""


class Agent:
    """Intake + watcher + pipeline for one context."""

    def __init__(self, ctx: Context, on_event: AgentEventSink = ignore,
                 sources: Sequence[Source] | None = None) -> None:
        self.ctx = ctx
        self._emit = on_event
        self.pipeline = Pipeline(ctx, self._on_event)
        self.shares = SharesJob(ctx, self._on_event)
        self._sources = sources
        self.watcher: Watcher | None = None
        self._stop = threading.Event()
        self._poll_now = threading.Event()
        self._unwatch: list[Callable[[], None]] = []  # stops the sources' own watchers
        self._thread: threading.Thread | None = None
        self._lock = FileLock(ctx.home.root / "agent.lock")

    def _on_event(self, event: AgentEvent) -> None:
        try:
            self._emit(event)
        except Exception:  # a listener's bug must not stop deliveries
            log.exception("event listener failed")

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        """Resume the outbox, then watch the export folder and poll the request sources."""
        self.ctx.require_setup()
        if not self._lock.acquire():
            raise StateError(Text(
                f"{self._lock.path}: für diese Praxis läuft bereits ein Agent",
                f"{self._lock.path}: an agent is already running for this home",
            ))
        self.ctx.stopping.clear()  # a context whose earlier agent was stopped talks again
        _ = self.ctx.store  # open the database (and keyring) before any thread needs it
        scrub_home(self.ctx)  # a home of an earlier version: its pinned keys (names) go
        self.pipeline.start()
        self.shares.start()
        export = Spool.of(self.ctx).export
        if export is not None:
            self.watcher = Watcher(
                export, self.pipeline.ingest, self.ctx.config.stable_seconds,
                self.ctx.config.rescan_seconds, self.ctx.config.sidecar_grace_seconds,
                lambda path: wants_record(self.ctx, path),
            )
            self.watcher.start()
        if self._sources is not None:  # given by the caller; otherwise made by the first poll
            self._watch_sources()
        self._thread = threading.Thread(target=self._loop, name="agent", daemon=True)
        self._thread.start()
        log.info("agent started")

    def stop(self) -> None:
        """Clean shutdown: no new work, no more platform calls or retry waits, uploads
        cancelled at the next block, threads joined."""
        self._stop.set()
        self.ctx.stopping.set()
        self._poll_now.set()
        if self._thread is not None:
            self._thread.join(timeout=60)
        for unwatch in self._unwatch:
            unwatch()
        self._unwatch.clear()
        if self.watcher is not None:
            self.watcher.stop()
        self.shares.stop()
        self.pipeline.stop()
        self._lock.release()
        log.info("agent stopped")

    def poll_now(self) -> None:
        """Fetch requests (and shares) now instead of at the next interval (the GUI's refresh button)."""
        self._poll_now.set()
        self.shares.kick()

    # -- staff actions (the GUI calls these; they are safe from any thread) -------------------

    def assign(self, document_id: str, request_id: str, birth_date: str) -> Document:
        doc = outbox.assign(self.ctx, document_id, request_id, birth_date)
        self.pipeline.submit(document_id)
        return doc

    def release(self, document_id: str, fingerprint: str) -> Document:
        """A held document goes to the patient's new key (staff's decision)."""
        doc = outbox.release(self.ctx, document_id, fingerprint)
        self.pipeline.submit(document_id)
        return doc

    def withhold(self, document_id: str) -> Document:
        return outbox.withhold(self.ctx, document_id)

    def retry(self, document_id: str) -> Document:
        doc = outbox.retry(self.ctx, document_id)
        self.pipeline.kick()
        return doc

    def add_files(self, files: list[Path], request_id: str, names: list[str] | None = None) -> list[Document]:
        docs = outbox.add_files(self.ctx, files, request_id, names)
        self.pipeline.kick()
        return docs

    # -- the loop ------------------------------------------------------------------------------

    def _loop(self) -> None:
        next_poll = next_retention = time.monotonic()
        accepted: tuple[int, str] = (0, "")
        while not self._stop.is_set():
            if time.monotonic() >= next_retention:
                next_retention = time.monotonic() + retention.INTERVAL_SECONDS
                try:
                    retention.run(self.ctx)
                except Exception:  # the loop must outlive any one failure; tried again later
                    log.exception("retention failed")
            if self._poll_now.is_set() or time.monotonic() >= next_poll:
                self._poll_now.clear()
                self._poll_intake()
                next_poll = time.monotonic() + max(1.0, self.ctx.config.poll_seconds)
            try:
                now_accepted = self._accepted_requests()
                if now_accepted != accepted:  # staff decided: files waiting for that may now match
                    accepted = now_accepted
                    for doc in outbox.rematch(self.ctx):
                        self._on_event(StateChanged(doc.document_id, doc.state, 0, doc.size))
                self.pipeline.kick()
            except Exception:  # the loop must outlive any one failure
                log.exception("agent housekeeping failed")
            self._poll_now.wait(min(HOUSEKEEPING_SECONDS, max(0.0, next_poll - time.monotonic())))

    def _watch_sources(self) -> None:
        """Sources that can tell when something arrives (IMAP IDLE, the .eml folder's file
        events) wake the loop at once; the periodic poll stays the safety net."""
        for source in self._sources or []:
            try:
                unwatch = source.start_watching(self.poll_now)
            except (OSError, PracticeClientError) as exc:
                log.info("intake source %s: no live watching (%s); polling only",
                         type(source).__name__, type(exc).__name__)
                continue
            if unwatch is not None:
                self._unwatch.append(unwatch)

    def _accepted_requests(self) -> tuple[int, str]:
        return self.ctx.store.acceptances()

    def _poll_intake(self) -> None:
        if self._sources is None:
            try:
                self._sources = configured_sources(self.ctx)
            except PracticeClientError as exc:
                self._on_event(Failure(exc.text))
                return
            self._watch_sources()
        for source in self._sources:
            if self._stop.is_set():
                return
            platform = source.talks_to_platform
            try:
                count = source.poll_once()
                if platform:  # staff see "connected" as soon as the inbox answers, not only after a delivery
                    self._on_event(Connected())
                if count:
                    self._on_event(NewRequests(count))
                source.report()
            except NetworkError as exc:
                log.info("intake source %s: %s", type(source).__name__, exc)
                self._on_event(Offline(exc.text) if platform else Failure(exc.text))
            except PracticeClientError as exc:
                log.info("intake source %s: %s", type(source).__name__, exc)
                self._on_event(Failure(exc.text))
            except Exception:
                log.exception("intake source %s failed", type(source).__name__)
