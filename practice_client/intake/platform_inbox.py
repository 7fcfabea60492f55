"""The platform API ``GET /v1/inbox`` as a request source.

The cursor advances only after every message of a page is stored in the inbox, so
a crash re-fetches (and de-duplicates) rather than skips. Queued decisions are
reported through the same client (:meth:`PlatformInboxSource.flush_decisions`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from practice_client.intake.decisions import flush_decisions

if TYPE_CHECKING:
    from practice_client.context import Context
    from practice_client.intake.inbox import Inbox
    from practice_client.platform.api import PlatformClient

log = logging.getLogger(__name__)

CURSOR_KEY = "platform_inbox_cursor"
MAX_PAGES = 50  # per poll: a misbehaving server cannot keep the client busy forever


class PlatformInboxSource:
    talks_to_platform = True  # its polls tell the agent whether the platform is reachable
    def __init__(
        self, ctx: Context, inbox: Inbox, client_factory: Callable[[], PlatformClient] | None = None
    ) -> None:
        self.ctx = ctx
        self.inbox = inbox
        self._client_factory = client_factory

    def _client(self) -> PlatformClient:
        if self._client_factory is not None:
            return self._client_factory()
        return self.ctx.platform()

    def poll_once(self) -> int:
        store = self.ctx.store
        recorded = 0
        with self._client() as client:
            for _ in range(MAX_PAGES):
                cursor = store.get_meta(CURSOR_KEY)
                messages, new_cursor = client.inbox(cursor)
                for raw in messages:
                    recorded += self.inbox.receive(raw, "platform")
                if new_cursor and new_cursor != cursor:
                    store.set_meta(CURSOR_KEY, new_cursor)
                if not messages or not new_cursor or new_cursor == cursor:
                    break
        return recorded + self.inbox.process_pending()

    def flush_decisions(self, ctx: Context) -> int:
        """Report queued decisions to the platform (the agent calls this after each poll)."""
        if not ctx.store.pending_decisions():
            return 0
        with self._client() as client:
            return flush_decisions(ctx, client)
