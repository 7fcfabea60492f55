"""What the agent tells its host (the GUI's bridge, the CLI): plain data, no Qt.

``kind`` is ``progress`` (document_id, phase, bytes_done, bytes_total),
``state`` (a document changed state: phase is the new state), ``alert``
(message), ``failure`` (message: identifiers only), ``new_requests`` (count),
``connected`` / ``offline``. Callbacks run in agent threads: they must only
hand the event on (a queue), never block or touch a GUI.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Event:
    kind: str
    document_id: str = ""
    phase: str = ""
    bytes_done: int = 0
    bytes_total: int = 0
    message: str = ""
    count: int = 0


EventSink = Callable[[Event], None]


def ignore(event: Event) -> None:
    """The sink when nobody listens."""
