"""What the agent tells its host (the GUI's bridge, the CLI): plain data, no Qt.

One frozen dataclass per kind of event - :data:`Event` is their union, so a host
``match``es on the class and a type checker sees every field: :class:`Progress` (a
document's bytes in a :class:`Phase`), :class:`StateChanged` (a document changed state),
:class:`Alert` and :class:`Failure` (a text for staff: identifiers only, German and
English kept apart), :class:`NewRequests`, :class:`Connected` / :class:`Offline`.
``kind`` names each for logs and tests. Callbacks run in agent threads: they must only
hand the event on (a queue), never block or touch a GUI.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import ClassVar

from practice_client.core.models import DocumentState
from practice_client.core.text import Text


class Phase(StrEnum):
    """What a document's bytes are going through."""

    ENCRYPTING = "encrypting"
    UPLOADING = "uploading"


@dataclass(frozen=True)
class Progress:
    kind: ClassVar[str] = "progress"
    document_id: str
    phase: Phase
    bytes_done: int
    bytes_total: int


@dataclass(frozen=True)
class StateChanged:
    """A document changed state (the store has it: hosts reload)."""

    kind: ClassVar[str] = "state"
    document_id: str
    state: DocumentState
    bytes_done: int = 0
    bytes_total: int = 0


@dataclass(frozen=True)
class Alert:
    """Staff must look at something (a server key that differs, an audit checkpoint refused)."""

    kind: ClassVar[str] = "alert"
    message: Text
    document_id: str = ""


@dataclass(frozen=True)
class Failure:
    kind: ClassVar[str] = "failure"
    message: Text
    document_id: str = ""


@dataclass(frozen=True)
class NewRequests:
    kind: ClassVar[str] = "new_requests"
    count: int


@dataclass(frozen=True)
class Connected:
    """The platform answered."""

    kind: ClassVar[str] = "connected"


@dataclass(frozen=True)
class Offline:
    """The platform could not be reached (it is retried)."""

    kind: ClassVar[str] = "offline"
    message: Text
    document_id: str = ""


Event = Progress | StateChanged | Alert | Failure | NewRequests | Connected | Offline
EventSink = Callable[[Event], None]


def ignore(event: Event) -> None:
    """The sink when nobody listens."""
