"""The agent tells staff whether the platform is reachable from its intake polls too,
not only after a delivery (a practice that only receives requests must not see "offline")."""

from __future__ import annotations

import threading

from practice_client.context import Context
from practice_client.delivery.agent import Agent
from practice_client.delivery.events import Event
from practice_client.intake.inbox import Inbox
from practice_client.intake.platform_inbox import PlatformInboxSource
from tests.delivery.conftest import World
from tests.fixtures_platform import fast_client


def run_agent_until(client: Context, world: World, kind: str) -> list[Event]:
    events: list[Event] = []
    seen = threading.Event()

    def sink(event: Event) -> None:
        events.append(event)
        if event.kind == kind:
            seen.set()

    source = PlatformInboxSource(client, Inbox(client), client_factory=lambda: fast_client(world.platform))
    agent = Agent(client, on_event=sink, sources=[source])
    agent.start()
    try:
        assert seen.wait(30), [e.kind for e in events]
    finally:
        agent.stop()
    return events


def test_a_successful_inbox_poll_reports_connected(world: World, client: Context) -> None:
    events = run_agent_until(client, world, "connected")
    assert "offline" not in [e.kind for e in events]


def test_an_unreachable_inbox_reports_offline_not_a_failure(world: World, client: Context) -> None:
    world.platform.faults.fail_next("inbox", count=50, status=503)
    try:
        events = run_agent_until(client, world, "offline")
    finally:
        world.platform.faults.clear()
    kinds = [e.kind for e in events]
    assert "connected" not in kinds and "failure" not in kinds
