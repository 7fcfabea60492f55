"""The agent tells staff whether the platform is reachable from its intake polls too,
not only after a delivery (a practice that only receives requests must not see "offline");
and a source that can tell when something arrives wakes it at once."""

from __future__ import annotations

import os
import threading
from pathlib import Path

from practice_client.context import Context
from practice_client.delivery.events import Event
from practice_client.intake.inbox import Inbox
from practice_client.service.agent import Agent
from practice_client.service.sources import folder_source, platform_source
from tests.support.delivery import start_agent, stop_agent
from tests.support.platform import fast_client
from tests.support.waiting import poll, wait_for
from tests.support.worlds import World

STOP_BUDGET_SECONDS = 20.0  # far below the retry schedule's sum (~60 s before its last attempt)


def run_agent_until(client: Context, world: World, kind: str) -> list[Event]:
    events: list[Event] = []
    seen = threading.Event()

    def sink(event: Event) -> None:
        events.append(event)
        if event.kind == kind:
            seen.set()

    source = platform_source(client, Inbox(client), lambda: fast_client(world.platform))
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


def test_a_file_in_the_request_folder_wakes_the_agent_long_before_its_next_poll(
        world: World, client: Context, work_dir: Path) -> None:
    client.update_config(poll_seconds=3600.0)  # only the folder's file events can bring it in time
    folder = work_dir / "eml"
    folder.mkdir()
    polled = threading.Event()
    source = folder_source(client, Inbox(client), folder)
    first_poll = source.poll_once

    def poll_once() -> int:
        polled.set()
        return first_poll()

    source.poll_once = poll_once  # type: ignore[method-assign]
    agent = Agent(client, sources=[source])
    agent.start()
    try:
        assert polled.wait(30)  # the poll at start is behind us: the next one is an hour away
        (folder / ".anfrage.eml.part").write_bytes(b"From: someone@example.org\r\n\r\nhello\r\n")
        os.replace(folder / ".anfrage.eml.part", folder / "anfrage.eml")
        taken = folder / "processed" / "anfrage.eml"  # moved just after the request is recorded
        poll(lambda: client.store.list_requests() and taken.exists(), timeout=30, interval=0.05)
        (record,) = client.store.list_requests()  # unreadable, so rejected - but taken in at once
        assert record.request_id.startswith("invalid-")
        assert (folder / "processed" / "anfrage.eml").exists()
    finally:
        agent.stop()


def test_a_stop_while_the_platform_fails_does_not_wait_out_the_retry_schedule(
        world: World, client: Context) -> None:
    """SIGTERM (systemd, a logout) while every inbox poll gets a 503: the agent is in its
    backoff between retries (8 attempts, up to 30 s apart: minutes in all). It stops at once
    instead - well inside the service manager's stop budget (TimeoutStopSec=90) - and exits 0."""
    world.platform.faults.fail_next("inbox", count=1000, status=503)
    try:
        agent = start_agent(client)
        wait_for(lambda: world.platform.stats.calls("inbox") >= 3, timeout=60, what="retries of the inbox")
        stop_agent(agent, client, timeout=STOP_BUDGET_SECONDS)
    finally:
        world.platform.faults.clear()

