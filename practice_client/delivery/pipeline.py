"""The delivery workers: threads, the queue and the backoff - nothing else.

``upload_workers`` threads each take one document at a time and step it as far as it
goes now (:class:`~.job.DeliveryJob`, the document's whole machine: seal, upload,
deliver), under the document's spool lock, so no document is worked on twice at once,
even across processes. gpg processes run in parallel; one :class:`PlatformClient` is
shared, so one ``requests`` session whose TLS connections are reused. A failure a
retry may cure (network, keyring, set-up) leaves the row where it is and comes back
after a capped, jittered backoff. ``stop()`` cancels uploads at the next block; the
server keeps what it has and the next start resumes from its offset. What a previous
run abandoned is terminated by the :class:`~.terminations.Terminator` first.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import random
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from practice_client.core.errors import PracticeClientError
from practice_client.core.models import DocumentState
from practice_client.core.text import Text
from practice_client.crypto.checkpoint import Anchor
from practice_client.delivery import outbox
from practice_client.delivery.events import Alert, EventSink, Failure, Offline, ignore
from practice_client.delivery.job import DeliveryJob, Dependencies, state_event
from practice_client.delivery.key_check import KeyComparer
from practice_client.delivery.spool import Spool
from practice_client.delivery.terminations import Terminator

if TYPE_CHECKING:
    from practice_client.context import Context
    from practice_client.platform.api import PlatformClient

log = logging.getLogger(__name__)

RETRY_BASE_SECONDS = 2.0
RETRY_MAX_SECONDS = 300.0


class Pipeline:
    """Runs documents through encryption and upload until stopped."""

    def __init__(
        self, ctx: Context, on_event: EventSink = ignore,
        client_factory: Callable[[], PlatformClient] | None = None,
    ) -> None:
        self.ctx = ctx
        self._emit = on_event
        self._client_factory = client_factory
        self._client: PlatformClient | None = None
        self._client_lock = threading.Lock()
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._busy: set[str] = set()  # queued or in work: never twice at once
        self._busy_lock = threading.Lock()
        self._timers: dict[str, threading.Timer] = {}
        self._cancel = threading.Event()
        self._threads: list[threading.Thread] = []
        self._ingest_lock = threading.Lock()
        self._spool = Spool.of(ctx)
        # audit checkpoints after deliveries; the platform refusing one means this log went back
        self._anchor = Anchor(ctx, self._client_required, lambda text: on_event(Alert(text)))
        self._terminator = Terminator(ctx.store, self._client_required, self._cancel)
        self._deps = Dependencies(ctx, self._client_required, self._client_or_none, KeyComparer(),
                                  self._terminator, self._cancel, on_event, self._anchor.poke)

    # -- lifecycle -----------------------------------------------------------------------

    def start(self) -> None:
        """Resume what a previous run left, then start the workers."""
        for doc in outbox.resume(self.ctx):
            self.submit(doc.document_id)
        self._terminator.start()  # what a previous run abandoned is terminated first
        for number in range(max(1, self.ctx.config.upload_workers)):
            thread = threading.Thread(target=self._work, name=f"delivery-{number}", daemon=True)
            thread.start()
            self._threads.append(thread)
        self._anchor.start()
        # The platform client (system CAs, the token from the keyring) takes a fifth of a
        # second to build: ready before the first document, not on its clock.
        threading.Thread(target=self._warm_up, name="platform-client", daemon=True).start()

    def stop(self) -> None:
        """Cancel running uploads at the next block, wait for the workers, close the session."""
        self._cancel.set()
        with self._busy_lock:
            for timer in self._timers.values():
                timer.cancel()
            self._timers.clear()
        for _ in self._threads:
            self._queue.put(None)
        for thread in self._threads:
            thread.join(timeout=60)
        self._threads.clear()
        self._anchor.stop()
        self._terminator.stop()
        with self._client_lock:
            if self._client is not None:
                self._client.close()
                self._client = None

    # -- feeding -------------------------------------------------------------------------

    def submit(self, document_id: str) -> None:
        with self._busy_lock:
            if document_id in self._busy or self._cancel.is_set():
                return
            self._busy.add(document_id)
        self._queue.put(document_id)

    def kick(self) -> None:
        """Pick up rows changed elsewhere (staff assigned or retried a document)."""
        for doc in self.ctx.store.list_documents(list(outbox.IN_WORK)):
            with self._busy_lock:
                waiting = doc.document_id in self._timers
            if not waiting:
                self.submit(doc.document_id)

    def ingest(self, path: Path) -> None:
        """The watcher's ``on_ready``: one entry of the export folder into the outbox."""
        with self._ingest_lock:
            doc = outbox.ingest(self.ctx, path)
        self._emit(state_event(doc))
        if doc.state is DocumentState.MATCHED:
            self.submit(doc.document_id)

    # -- the workers ---------------------------------------------------------------------

    def _work(self) -> None:
        while True:
            document_id = self._queue.get()
            if document_id is None:
                return
            try:
                self._process(document_id)
            except Exception:  # a bug must not kill the worker; the row stays for a restart
                log.exception("document %s: unexpected error", document_id)
                self._emit(Failure(Text.same(f"internal error ({document_id})"), document_id))
            finally:
                with self._busy_lock:
                    self._busy.discard(document_id)

    def _process(self, document_id: str) -> None:
        """One document as far as it goes now - if no other process is working on it."""
        with self._spool.lock(document_id) as held:
            retry = DeliveryJob(self._deps, document_id).advance() if held else None
            if retry is not None:
                self._retry_later(document_id, retry.reason)
        outbox.rest(self.ctx, document_id)  # failed meanwhile: its kept original is at rest

    def _retry_later(self, document_id: str, reason: Text) -> None:
        doc = self.ctx.store.get_document(document_id)
        if doc is None:
            return
        attempts = outbox.transient(self.ctx, doc, reason)
        delay = min(RETRY_MAX_SECONDS, RETRY_BASE_SECONDS * 2 ** min(attempts, 10))
        delay *= random.uniform(0.5, 1.0)  # noqa: S311 - jitter, not security
        log.info("document %s: transient failure, retry in %.0f s", document_id, delay)
        self._emit(Offline(Text.same(f"platform not reachable ({document_id})"), document_id))

        def again() -> None:
            with self._busy_lock:
                self._timers.pop(document_id, None)
            self.submit(document_id)

        timer = threading.Timer(delay, again)
        timer.daemon = True
        with self._busy_lock:
            if self._cancel.is_set():
                return
            self._timers[document_id] = timer
        timer.start()

    # -- the platform client -------------------------------------------------------------

    def _client_required(self) -> PlatformClient:
        with self._client_lock:
            if self._client is None:
                if self._client_factory is not None:
                    self._client = self._client_factory()
                else:
                    self._client = self.ctx.platform()
            return self._client

    def _warm_up(self) -> None:
        if not self._cancel.is_set():
            self._client_or_none()

    def _client_or_none(self) -> PlatformClient | None:
        """For the key comparison, which never blocks delivery."""
        with contextlib.suppress(PracticeClientError):
            return self._client_required()
        return None
