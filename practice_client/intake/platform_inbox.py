"""The platform API ``GET /v1/inbox`` as a request source.

The cursor advances only after every message of a page is stored in the inbox, so
a crash re-fetches (and de-duplicates) rather than skips. Queued decisions are
reported through the same client (:meth:`PlatformInboxSource.flush_decisions`).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from practice_client.intake.decisions import flush_decisions

if TYPE_CHECKING:
    from practice_client.context import Context
    from practice_client.intake.inbox import Inbox

log = logging.getLogger(__name__)

CURSOR_KEY = "platform_inbox_cursor"
MAX_PAGES = 50  # per poll: a misbehaving server cannot keep the client busy forever


class PlatformInboxSource:
    def __init__(self, ctx: Context, inbox: Inbox) -> None:
        self.ctx = ctx
        self.inbox = inbox

    def poll_once(self) -> int:
        from practice_client.core.platform import PlatformClient

        store = self.ctx.store
        recorded = 0
        with PlatformClient.from_context(self.ctx) as client:
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
        return flush_decisions(ctx)
