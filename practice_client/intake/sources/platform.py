"""The platform API ``GET /v1/inbox`` as a request source.

The cursor advances only after every message of a page is stored in the inbox, so
a crash re-fetches (and de-duplicates) rather than skips. Queued decisions are
reported through a client of the same factory (:meth:`PlatformSource.report`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from practice_client.intake.sources import Deliver, Settle, Stop, Wake

if TYPE_CHECKING:
    from practice_client.core.store import Store
    from practice_client.platform.api import PlatformClient

log = logging.getLogger(__name__)

CURSOR_KEY = "platform_inbox_cursor"
MAX_PAGES = 50  # per poll: a misbehaving server cannot keep the client busy forever

Decisions = Callable[["PlatformClient"], int]
"""Sends the queued decisions through a client; how many were sent
(:func:`practice_client.intake.decisions.flush_decisions`)."""


class PlatformSource:
    """The platform's inbox; ``client`` makes a client (one per poll), ``store`` keeps the
    cursor and knows whether decisions wait."""

    talks_to_platform = True  # its polls tell the agent whether the platform is reachable

    def __init__(
        self, client: Callable[[], PlatformClient], store: Store, *, deliver: Deliver, settle: Settle,
        decisions: Decisions,
    ) -> None:
        self._client = client
        self._store = store
        self._deliver = deliver
        self._settle = settle
        self._decisions = decisions

    def poll_once(self) -> int:
        store = self._store
        recorded = 0
        with self._client() as client:
            for _ in range(MAX_PAGES):
                cursor = store.get_meta(CURSOR_KEY)
                messages, new_cursor = client.inbox(cursor)
                for raw in messages:
                    recorded += self._deliver(raw, "platform")
                if new_cursor and new_cursor != cursor:
                    store.set_meta(CURSOR_KEY, new_cursor)
                if not messages or not new_cursor or new_cursor == cursor:
                    break
        return recorded + self._settle()

    def start_watching(self, wake: Wake) -> Stop | None:
        return None  # the platform is polled; it has no way to call the practice

    def report(self) -> int:
        """Report queued decisions to the platform (the agent calls this after each poll)."""
        if not self._store.pending_decisions():
            return 0
        with self._client() as client:
            return self._decisions(client)
