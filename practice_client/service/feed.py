"""The change feed: what every workstation's window hears, as server-sent events.

Sources, all in other threads: the store (every committed change, with the audit seq
that is the lists' cursor), the agent (upload progress, the platform's connection,
failures). :meth:`Feed.publish` only hands an event to the event loop; each connected
workstation has a queue there. A subscriber's stream *coalesces*: of many changes it
sends the newest cursor, of many progress events the newest per document - a slow
workstation never makes the service buffer without bound, and a GUI refreshes what
changed since its cursor, so nothing is lost by skipping intermediate cursors.

Events: ``change`` {cursor}, ``progress`` {document_id, phase, done, total},
``platform`` {state: connected|offline}, ``notice`` {kind, message, text: {de, en}, count}. A comment
line every :data:`HEARTBEAT_SECONDS` lets a workstation notice a dead connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, assert_never

from practice_client.delivery import events
from practice_client.service.wire import to_wire
from practice_client.shares import events as share_events

if TYPE_CHECKING:
    from practice_client.service.agent import AgentEvent

log = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 5.0
MAX_QUEUED = 1000  # per subscriber; beyond it the subscriber gets one "change" (read again)


@dataclass(eq=False)
class _Subscriber:
    workstation_id: str
    queue: asyncio.Queue[dict[str, Any] | None] = field(default_factory=asyncio.Queue)


class Feed:
    """Fan-out from any thread to the SSE streams in the event loop."""

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._subscribers: set[_Subscriber] = set()
        self._lock = threading.Lock()
        self.cursor = 0

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop

    def publish(self, event: dict[str, Any]) -> None:
        """Safe from any thread; never blocks, never raises."""
        if event.get("type") == "change":
            self.cursor = max(self.cursor, int(event.get("cursor", 0)))
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        with contextlib.suppress(RuntimeError):  # the loop is shutting down
            loop.call_soon_threadsafe(self._deliver, event)

    def _deliver(self, event: dict[str, Any] | None, only: str | None = None) -> None:
        for subscriber in list(self._subscribers):
            if only is not None and subscriber.workstation_id != only:
                continue
            if subscriber.queue.qsize() >= MAX_QUEUED and event is not None:
                continue  # the stream sends the newest cursor anyway
            subscriber.queue.put_nowait(event)

    def close(self, workstation_id: str | None = None) -> None:
        """End the streams of one workstation (unpaired) or of all (shutdown). Any thread."""
        loop = self._loop
        if loop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(self._deliver, None, workstation_id)

    async def stream(self, workstation_id: str) -> AsyncIterator[str]:
        """One workstation's SSE stream (runs in the event loop)."""
        subscriber = _Subscriber(workstation_id)
        self._subscribers.add(subscriber)
        try:
            yield _sse("change", {"cursor": self.cursor})
            while True:
                try:
                    first = await asyncio.wait_for(subscriber.queue.get(), HEARTBEAT_SECONDS)
                except TimeoutError:
                    yield ": heartbeat\n\n"
                    continue
                batch = [first]
                while not subscriber.queue.empty():
                    batch.append(subscriber.queue.get_nowait())
                if None in batch:
                    return
                for name, data in _coalesce(batch):
                    yield _sse(name, data)
        finally:
            self._subscribers.discard(subscriber)


def _coalesce(batch: list[dict[str, Any] | None]) -> list[tuple[str, dict[str, Any]]]:
    out: list[tuple[str, dict[str, Any]]] = []
    progress: dict[str, dict[str, Any]] = {}
    cursor = -1
    for event in batch:
        assert event is not None
        kind = str(event.get("type"))
        data = {k: v for k, v in event.items() if k != "type"}
        if kind == "change":
            cursor = max(cursor, int(data.get("cursor", 0)))
        elif kind == "progress":
            progress[str(data.get("document_id"))] = data
        else:
            out.append((kind, data))
    out.extend(("progress", p) for p in progress.values())
    if cursor >= 0:
        out.append(("change", {"cursor": cursor}))
    return out


def _sse(name: str, data: dict[str, Any]) -> str:
    return f"event: {name}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"


def agent_event(event: AgentEvent) -> dict[str, Any] | None:
    """The feed's form of an agent event: a notice's text in both languages (``text``,
    each workstation shows its own) and joined (``message``, for logs and the CLI)."""
    match event:
        case events.Progress(document_id=document_id, phase=phase, bytes_done=done, bytes_total=total):
            return {"type": "progress", "document_id": document_id, "phase": phase.value, "done": done,
                    "total": total}
        case events.Connected() | events.Offline():
            return {"type": "platform", "state": event.kind}
        case events.NewRequests(count=count):
            return {"type": "notice", "kind": event.kind, "message": "", "text": None, "count": count}
        case events.Failure(message=text) | events.Alert(message=text):
            return {"type": "notice", "kind": event.kind, "message": str(text), "text": to_wire(text), "count": 0}
        case share_events.NewShares(count=count):
            return {"type": "notice", "kind": event.kind, "message": "", "text": None, "count": count}
        case share_events.ShareQuarantined(message=text):
            return {"type": "notice", "kind": event.kind, "message": str(text), "text": to_wire(text), "count": 0}
        case share_events.SharesOffline():
            return {"type": "platform", "state": "offline"}
        case events.StateChanged() | share_events.ShareChanged():
            return None  # the store's change already went out
        case _:
            assert_never(event)
