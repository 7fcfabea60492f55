"""Where requests come from: the platform's inbox, an IMAP mailbox, a folder of saved mails.

Every source has the same shape. It is built from what it reads (a client factory, a
mailbox's settings, a folder) and two callables of the inbox - it never imports the inbox
(:mod:`practice_client.intake.inbox`), so there is no cycle between them:

- ``deliver(raw, source)`` (:data:`Deliver`): store one raw message durably and verify
  it; returns the new requests recorded. Once it returns the source may drop its copy
  (move the mail, advance the cursor);
- ``settle()`` (:data:`Settle`): verify what was stored but has no verdict yet (a crash
  last time, a DNS outage) - called at the end of every poll.

and satisfies :class:`Source`, which is all the agent (:mod:`practice_client.service.agent`)
knows of it. Which sources the config enables is :mod:`practice_client.service.sources`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

Deliver = Callable[[bytes, str], int]
Settle = Callable[[], int]
Wake = Callable[[], None]
Stop = Callable[[], None]


class Source(Protocol):
    """A request source as the agent runs it."""

    @property
    def talks_to_platform(self) -> bool:
        """Its polls say whether the platform is reachable (staff see "connected"/"offline")."""

    def poll_once(self) -> int:
        """Collect what is new into the inbox; the number of new requests recorded."""

    def start_watching(self, wake: Wake) -> Stop | None:
        """Call ``wake`` as soon as something arrives (IMAP IDLE, file events); returns the
        function that stops watching, or None where the source can only be polled."""

    def report(self) -> int:
        """After a poll: send what waits for the other side (staff's decisions, to the
        platform); how many were sent. 0 where nothing ever waits."""
