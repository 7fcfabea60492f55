"""The GUI's :class:`~practice_client.gui.viewmodels.DataSource` over the practice service.

A workstation's window reads exactly what it reads from a local store - pages of a list,
the rows changed since a cursor, the overview, the audit check, the practice's settings - through
``POST /v1/views/<method>`` of the service's HTTPS API; the arguments and answers are the
DataSource's own types (:mod:`practice_client.service.wire`), so the two sides cannot
drift. Every method blocks (a worker thread calls it) and raises
:class:`~practice_client.service.client.ServiceUnavailable` while the service cannot be
reached: the window shows its last state and says it is offline. Nothing here opens a
database.
"""

from __future__ import annotations

import typing
from functools import cache
from typing import Any

from practice_client.core.audit import VerifyResult
from practice_client.delivery.recipients import AssignCandidate
from practice_client.gui.viewmodels import (
    MAX_CHANGES,
    PAGE_ROWS,
    Changes,
    DataSource,
    Overview,
    Page,
    PracticeSettings,
    Query,
    SortKey,
)
from practice_client.service.client import ServiceClient
from practice_client.service.wire import from_wire, to_wire


@cache
def _answer_type(method: str) -> Any:
    return typing.get_type_hints(getattr(DataSource, method))["return"]


class RemoteSource:
    """A DataSource whose store is the practice service's (see the module doc)."""

    def __init__(self, client: ServiceClient) -> None:
        self.client = client

    def _view(self, method: str, **args: Any) -> Any:
        value = self.client.view(method, **{name: to_wire(v) for name, v in args.items()})
        try:
            return from_wire(_answer_type(method), value)
        except (ValueError, TypeError, KeyError) as exc:
            from practice_client.core.errors import NetworkError

            raise NetworkError(f"the practice service's answer to {method} is malformed ({exc})") from None

    def overview(self) -> Overview:
        return typing.cast(Overview, self._view("overview"))

    def verify_audit(self, full: bool = False) -> VerifyResult:
        return typing.cast(VerifyResult, self._view("verify_audit", full=full))

    def page(self, query: Query, after: SortKey | None = None, limit: int = PAGE_ROWS) -> Page:
        return typing.cast(Page, self._view("page", query=query, after=after, limit=limit))

    def changes(self, query: Query, since: int, limit: int = MAX_CHANGES) -> Changes:
        return typing.cast(Changes, self._view("changes", query=query, since=since, limit=limit))

    def assign_candidates(self) -> list[AssignCandidate]:
        return typing.cast(list[AssignCandidate], self._view("assign_candidates"))

    def audit_events(self) -> list[str]:
        return typing.cast(list[str], self._view("audit_events"))

    def settings(self) -> PracticeSettings:
        return typing.cast(PracticeSettings, self._view("settings"))
