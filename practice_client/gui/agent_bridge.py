"""The agent's events, carried into the GUI thread.

The agent (intake, watched folder, uploads) runs in its own threads and knows
nothing of Qt. Its event callback only puts the event on a thread-safe queue;
a QTimer in the GUI thread drains the queue and turns each event into a signal.
So no agent thread ever emits a signal or touches a widget, and a burst of
progress events costs the GUI one short drain per tick.
"""

from __future__ import annotations

import logging
import queue
import threading
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QTimer, Signal

from practice_client.delivery.events import (
    Alert,
    Connected,
    Event,
    Failure,
    NewRequests,
    Offline,
    Progress,
    StateChanged,
)

if TYPE_CHECKING:
    from practice_client.context import Context
    from practice_client.service.agent import Agent

log = logging.getLogger(__name__)

DRAIN_INTERVAL_MS = 50
MAX_EVENTS_PER_TICK = 500  # a flood is spread over ticks instead of stalling the GUI


class AgentBridge(QObject):
    """Owns the agent (start/stop) and re-emits its events in the GUI thread."""

    documentProgress = Signal(str, str, int, int)  # document_id, phase, bytes_done, bytes_total
    newRequests = Signal(int)
    failure = Signal(str)  # one-line message (identifiers only), in the GUI's language
    connectionChanged = Signal(str)  # "connected" | "offline"
    stateChanged = Signal()  # something in the store changed: reload

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.events: queue.SimpleQueue[Event] = queue.SimpleQueue()
        self._agent: Agent | None = None
        self._language = "de"  # the GUI's, once an agent is created for a context
        self._lock = threading.Lock()
        self._started: list[Agent] = []
        self._timer = QTimer(self, interval=DRAIN_INTERVAL_MS)
        self._timer.timeout.connect(self.drain)
        self._timer.start()

    @property
    def running(self) -> bool:
        return self._agent is not None

    @property
    def agent(self) -> Agent | None:
        """The running agent (staff actions go through it so it picks them up at once), or None."""
        return self._agent

    def poll_now(self) -> None:
        """Safe from any thread: the agent polls (and reports decisions) without waiting."""
        agent = self._agent
        if agent is not None:
            agent.poll_now()

    def post(self, event: Event) -> None:
        """The agent's callback. Runs in agent threads: only enqueue, nothing else."""
        self.events.put(event)

    def create_and_start(self, ctx: Context) -> Agent:
        """Build and start the agent. MUST NOT run in the GUI thread: starting resumes the
        outbox and scans the export folder (disk, database). Hand the result to :meth:`adopt`."""
        from practice_client.service.agent import Agent

        self._language = ctx.config.language
        agent = Agent(ctx, on_event=self.post)
        agent.start()
        with self._lock:
            self._started.append(agent)  # stopped at shutdown even if never adopted
        return agent

    def adopt(self, agent: Agent) -> None:
        """The started agent (GUI thread): staff actions go through it from now on."""
        self._agent = agent
        log.info("agent started from the GUI")

    def stop(self) -> None:
        """Ask the agent to stop and wait for its threads (they end on their own)."""
        self._agent = None
        with self._lock:
            agents, self._started = self._started, []
        for agent in agents:
            agent.stop()
        self._timer.stop()
        self.drain()

    def drain(self) -> None:
        """Turn queued events into signals (GUI thread)."""
        changed = False
        for _ in range(MAX_EVENTS_PER_TICK):
            try:
                event = self.events.get_nowait()
            except queue.Empty:
                break
            changed = self._dispatch(event) or changed
        if changed:
            self.stateChanged.emit()

    def _dispatch(self, event: Event) -> bool:
        """Emit the signal for one event; True when the store changed."""
        match event:
            case Progress(document_id, phase, done, total):
                self.documentProgress.emit(document_id, str(phase), done, total)
                return False
            case NewRequests(count):
                self.newRequests.emit(count)
            case Failure(message) | Alert(message):
                self.failure.emit(message.pick(self._language))
            case Connected() | Offline():
                self.connectionChanged.emit(event.kind)
                return False
            case StateChanged():
                pass
        return True
