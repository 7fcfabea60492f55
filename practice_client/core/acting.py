"""Who is acting: the workstation and OS user behind a staff command, and its idempotency key.

The practice service runs each staff command (accept, assign, pin, ...) inside
:func:`acting`. While it is active, every audit entry the store writes names the
workstation and the OS user (``by``), and the *first* state change of the command
records its idempotency key in the same transaction (the ``commands`` table): a
retried command with that key is answered from the record instead of applied again.
A command that changed nothing leaves no key behind until the service records its
refusal itself. Nothing here touches the database; the store reads :func:`current`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Actor:
    """A paired workstation and the OS user its client reported (names only, no secrets)."""

    workstation_id: str
    workstation: str
    os_user: str
    role: str

    def audit(self) -> dict[str, str]:
        return {"workstation_id": self.workstation_id, "workstation": self.workstation, "os_user": self.os_user}


@dataclass
class Acting:
    """One command in progress. ``recorded``: its key is in the database (set by the store)."""

    actor: Actor
    key: str
    command: str
    request_sha256: str
    recorded: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


_CURRENT: ContextVar[Acting | None] = ContextVar("practice_client_acting", default=None)


def current() -> Acting | None:
    return _CURRENT.get()


@contextlib.contextmanager
def acting(command: Acting) -> Iterator[Acting]:
    """Run the body as ``command`` (in this thread / task only)."""
    token = _CURRENT.set(command)
    try:
        yield command
    finally:
        _CURRENT.reset(token)
