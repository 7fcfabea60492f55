"""What the shares job tells the agent's host (the GUI's bridge, the CLI): plain data, no Qt.

The shares' kinds of the agent's tagged union (the delivery's are
:mod:`practice_client.delivery.events`; the shares package never imports delivery, so
its kinds live here and the service joins both in
:data:`practice_client.service.agent.AgentEvent`): :class:`NewShares`,
:class:`ShareChanged` (a share changed state: hosts reload), :class:`ShareQuarantined`
(staff must look: a text, identifiers only, German and English apart) and
:class:`SharesOffline`. ``kind`` names each for logs and tests. Callbacks run in the
job's thread: they must only hand the event on, never block or touch a GUI.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

from practice_client.core.text import Text
from practice_client.shares.states import ShareState


@dataclass(frozen=True)
class NewShares:
    """The platform listed shares the client had not seen."""

    kind: ClassVar[str] = "new_shares"
    count: int


@dataclass(frozen=True)
class ShareChanged:
    """A share changed state (the store has it: hosts reload)."""

    kind: ClassVar[str] = "share"
    share_id: str
    state: ShareState


@dataclass(frozen=True)
class ShareQuarantined:
    """A share was quarantined: staff must look (the Eingang page says why)."""

    kind: ClassVar[str] = "share_quarantined"
    share_id: str
    message: Text


@dataclass(frozen=True)
class SharesOffline:
    """The platform's listing could not be fetched (tried again next pass)."""

    kind: ClassVar[str] = "shares_offline"
    message: Text


ShareEvent = NewShares | ShareChanged | ShareQuarantined | SharesOffline
ShareEventSink = Callable[[ShareEvent], None]


def ignore(event: ShareEvent) -> None:
    """The sink when nobody listens."""
