"""Abandoned uploads are terminated (tus ``DELETE``) until the platform confirms it.

An upload is abandoned when its bytes can never be used: the document is encrypted
anew (after a crash while streaming, or a staff retry - a fresh session key, so the
old ciphertext must not be continued), or the document failed. The decision moves the
upload's URL into the store's pending terminations in the same transaction as the
state change; this queue then sends the ``DELETE`` - at start, whenever new ones are
queued, and after a failure with capped backoff - and removes the row only once the
platform answered (204, or 404/410: gone already). So a crash between the decision and
the ``DELETE`` still ends in the ``DELETE``, and no partial ciphertext of a patient's
document stays on the platform.

A platform that offers no termination is said so once in the log; its uploads are left
to its expiration (docs/admin.md), and each such row is closed in the audit log.

Exactly once: a document's new uploads are completed only after its own pending
terminations went through (:meth:`Terminator.drain`), so no part is ever finished
twice - an abandoned upload may have been complete.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from practice_client.core.errors import NetworkError, PracticeClientError
from practice_client.platform.tus import NoTermination

if TYPE_CHECKING:
    from practice_client.core.store import PendingTermination, Store
    from practice_client.platform.api import PlatformClient

log = logging.getLogger(__name__)

BACKOFF_BASE_SECONDS = 2.0
BACKOFF_MAX_SECONDS = 300.0


class Terminator:
    """Sends the pending terminations of one home; a thread retries what failed."""

    def __init__(self, store: Store, client: Callable[[], PlatformClient], cancel: threading.Event) -> None:
        self._store = store
        self._client = client
        self._cancel = cancel
        self._wake = threading.Event()
        self._lock = threading.Lock()  # one DELETE of a URL at a time
        self._told_unsupported = False
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="terminations", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=60)
            self._thread = None

    def wake(self) -> None:
        """New terminations are queued: send them now."""
        self._wake.set()

    def drain(self, document_id: str | None = None) -> None:
        """Send the pending terminations (of one document, or all). Raises NetworkError
        (and keeps the rest queued) when the platform cannot be reached or refuses."""
        for pending in self._store.pending_terminations(document_id):
            if self._cancel.is_set():
                return
            self._terminate(pending)

    def _terminate(self, pending: PendingTermination) -> None:
        with self._lock:
            if not any(p.url == pending.url for p in self._store.pending_terminations(pending.document_id)):
                return  # another thread did it meanwhile
            try:
                self._client().tus.terminate(pending.url)
            except NoTermination:
                if not self._told_unsupported:
                    self._told_unsupported = True
                    log.warning("the platform offers no upload termination: abandoned uploads stay "
                                "until the platform's expiration removes them")
                self._store.termination_done(pending, "left_to_expiration")
                return
            except NetworkError:
                self._store.termination_failed(pending.url)
                raise
            self._store.termination_done(pending, "terminated")
            log.info("document %s: abandoned %s upload terminated (%s)", pending.document_id,
                     pending.part, pending.reason)

    def _run(self) -> None:
        failures = 0
        while not self._cancel.is_set():
            self._wake.clear()  # before the drain: a wake() during it means "once more"
            try:
                self.drain()
                failures = 0
                timeout: float | None = None
            except PracticeClientError as exc:
                failures += 1
                timeout = min(BACKOFF_MAX_SECONDS, BACKOFF_BASE_SECONDS * 2 ** min(failures, 10))
                log.info("pending upload terminations: %s; again in %.0f s", exc, timeout)
            self._wake.wait(timeout)
