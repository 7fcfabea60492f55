"""Two workstations' real windows (two processes, offscreen, two workstation homes paired
with real codes) against one real service process over TLS on loopback.

- an accept on one shows on the other within a second (the change feed);
- ``kill -9`` of the service during an action: both show the service offline, reconnect by
  themselves, and the action is applied exactly once - or reported as not applied;
- a revoked workstation and a service with another certificate are refused;
- neither window opens a database: a workstation home holds no practice data.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import kill_agents, short_tmpdir
from tests.support.service import EMPTY_POLICY, ROOT, ServiceProcess, accepted_count, open_request, pair_home
from tests.support.worlds import World

pytestmark = pytest.mark.slow

Event = dict[str, Any]


@dataclass
class Gui:
    """One workstation window in its own process (tests/support/workstation_gui.py)."""

    name: str
    home: Path
    process: subprocess.Popen[str]
    events: list[tuple[float, Event]] = field(default_factory=list)
    _new: threading.Condition = field(default_factory=threading.Condition)

    def read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            with self._new:
                self.events.append((time.monotonic(), json.loads(line)))
                self._new.notify_all()

    def wait(self, predicate: Callable[[Event], bool], timeout: float, what: str,
             after: int = 0) -> tuple[float, Event]:
        """The first event (from index ``after``) that fits, waiting on the reader's signal."""
        deadline = time.monotonic() + timeout
        with self._new:
            while True:
                for at, event in self.events[after:]:
                    if predicate(event):
                        return at, event
                left = deadline - time.monotonic()
                if left <= 0 or self.process.poll() is not None:
                    raise AssertionError(f"{self.name}: timed out waiting for {what}; events: {self.events[-8:]}")
                self._new.wait(left)

    def status_of(self, request_id: str, status: str, timeout: float = 30.0, after: int = 0) -> float:
        at, _ = self.wait(lambda e: e["event"] == "requests" and e["rows"].get(request_id) == status, timeout,
                          f"request {request_id[:8]} {status}", after)
        return at

    def connection(self, state: str, timeout: float = 30.0, after: int = 0) -> Event:
        return self.wait(lambda e: e["event"] == "connection" and e["state"] == state, timeout, state, after)[1]

    def mark(self) -> int:
        with self._new:
            return len(self.events)

    def send(self, **order: Any) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(order) + "\n")
        self.process.stdin.flush()

    def close(self) -> None:
        if self.process.poll() is None:
            try:
                self.send(do="quit")
                self.process.wait(60)
            except (OSError, subprocess.TimeoutExpired):
                self.process.kill()
                self.process.wait(30)


def start_gui(name: str, home: Path) -> Gui:
    env = dict(os.environ, PRACTICE_CLIENT_HOME=str(home), PRACTICE_CLIENT_POLICY=str(EMPTY_POLICY),
               QT_QPA_PLATFORM="offscreen")
    process = subprocess.Popen([sys.executable, "-m", "tests.support.workstation_gui"], cwd=ROOT, env=env,
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    gui = Gui(name, home, process)
    threading.Thread(target=gui.read, daemon=True).start()
    gui.wait(lambda e: e["event"] == "ready", 120, "the window")
    return gui


@pytest.fixture
def workstations(practice: ServiceProcess) -> Iterator[tuple[Gui, Gui]]:
    homes = [short_tmpdir("pcws") for _ in range(2)]
    guis: list[Gui] = []
    try:
        for home, name in zip(homes, ("Empfang", "Sprechzimmer 1"), strict=True):
            pair_home(practice, home, name)
            guis.append(start_gui(name, home))
        for gui in guis:
            gui.connection("service-online", 60)
        yield guis[0], guis[1]
    finally:
        for gui in guis:
            gui.close()
        for home in homes:
            kill_agents(home)


def assert_no_practice_data(home: Path) -> None:
    """The window never opened a database, an audit log or a GnuPG home here."""
    for name in ("state.sqlite3", "audit.jsonl", "gnupg"):
        assert not (home / name).exists(), f"{home / name}: a workstation home holds practice data"


def open_at_both(practice: ServiceProcess, workstations: tuple[Gui, Gui], world: World,  # noqa: F811
                 monkeypatch: pytest.MonkeyPatch) -> str:
    """A new open request, shown by both windows (the service's lists reached both)."""
    request_id = open_request(practice, world, monkeypatch)
    for gui in workstations:
        gui.status_of(request_id, "open")
    return request_id


def test_an_accept_on_one_workstation_shows_on_the_other_within_a_second(
        practice: ServiceProcess, workstations: tuple[Gui, Gui], world: World,  # noqa: F811
        monkeypatch: pytest.MonkeyPatch) -> None:
    empfang, sprechzimmer = workstations
    request_id = open_at_both(practice, workstations, world, monkeypatch)
    mark = sprechzimmer.mark()
    empfang.send(do="accept", request_id=request_id)
    decided_at, _ = empfang.wait(lambda e: e["event"] == "decided" and e["request_id"] == request_id, 30,
                                 "the accept")
    shown_at = sprechzimmer.status_of(request_id, "accepted", timeout=5, after=mark)
    assert shown_at - decided_at < 1.0, f"the other workstation showed it after {shown_at - decided_at:.2f} s"
    assert accepted_count(practice, request_id, monkeypatch) == 1
    for gui in workstations:
        assert_no_practice_data(gui.home)


def test_kill_9_during_an_action_applies_it_once_and_both_reconnect(
        practice: ServiceProcess, workstations: tuple[Gui, Gui], world: World,  # noqa: F811
        monkeypatch: pytest.MonkeyPatch) -> None:
    empfang, sprechzimmer = workstations
    request_id = open_at_both(practice, workstations, world, monkeypatch)
    marks = [gui.mark() for gui in workstations]
    empfang.send(do="accept", request_id=request_id)
    practice.kill9()  # while the accept is on its way, being applied, or answered
    for gui, mark in zip(workstations, marks, strict=True):
        event = gui.connection("service-offline", 30, after=mark)
        assert "nicht erreichbar" in event["label"] or "cannot be reached" in event["label"]
    practice.start()  # the supervisor's restart (systemd: Restart=on-failure)
    for gui, mark in zip(workstations, marks, strict=True):
        gui.connection("service-online", 60, after=mark)
    # applied exactly once: either the resent command (same key) or, answered as not
    # applied, nothing - and the windows say which
    _at, outcome = empfang.wait(lambda e: e["event"] in ("decided", "settled") or
                                (e["event"] == "failed" and e["action"] == "accept"), 60, "the accept's outcome",
                                marks[0])
    applied = outcome["event"] == "decided" or (outcome["event"] == "settled" and outcome["applied"])
    if outcome["event"] == "failed":  # the answer was lost: settled once the service is back
        _at, settled = empfang.wait(lambda e: e["event"] == "settled", 60, "the settlement", marks[0])
        applied = bool(settled["applied"])
    status = "accepted" if applied else "open"
    for gui, mark in zip(workstations, marks, strict=True):
        gui.status_of(request_id, status, after=mark)
    assert accepted_count(practice, request_id, monkeypatch) == (1 if applied else 0)


def test_an_action_while_the_service_is_away_is_reported_not_applied(
        practice: ServiceProcess, workstations: tuple[Gui, Gui], world: World,  # noqa: F811
        monkeypatch: pytest.MonkeyPatch) -> None:
    empfang, sprechzimmer = workstations
    request_id = open_request(practice, world, monkeypatch)
    empfang.status_of(request_id, "open")
    mark = empfang.mark()
    practice.kill9()
    empfang.connection("service-offline", 30, after=mark)
    empfang.send(do="accept", request_id=request_id)
    _at, failed = empfang.wait(lambda e: e["event"] == "failed" and e["action"] == "accept", 60, "the failure", mark)
    # in the window's language only (German here), never both
    assert "nicht erreichbar" in failed["message"] and "cannot be reached" not in failed["message"]
    practice.start()
    _at, settled = empfang.wait(lambda e: e["event"] == "settled", 60, "the settlement", mark)
    assert settled["applied"] is False and "nicht ausgeführt" in settled["message"]
    assert "not applied" not in settled["message"]
    assert accepted_count(practice, request_id, monkeypatch) == 0
    sprechzimmer.status_of(request_id, "open")
    empfang.send(do="accept", request_id=request_id)  # done again, on purpose: applied now
    empfang.status_of(request_id, "accepted", after=mark)
    sprechzimmer.status_of(request_id, "accepted")
    assert accepted_count(practice, request_id, monkeypatch) == 1


def test_a_revoked_workstation_and_another_service_are_refused(
        practice: ServiceProcess, workstations: tuple[Gui, Gui], credentials_dir: Path) -> None:
    empfang, sprechzimmer = workstations
    mark = empfang.mark()
    listed = practice.control("GET", "/v1/control/workstations")["workstations"]
    revoked = next(w for w in listed if w["name"] == "Empfang")
    practice.control("POST", "/v1/control/unpair", {"workstation_id": revoked["workstation_id"]})
    _at, failed = empfang.wait(lambda e: e["event"] == "failed" and e["action"] == "service", 30, "the refusal",
                               mark)
    assert "entkoppelt" in failed["message"] and "unpaired" not in failed["message"]  # the service's text, German
    # another machine answers at the service's address: its certificate is not the pinned one
    mark = sprechzimmer.mark()
    practice.stop()
    impostor_home = short_tmpdir("pcimp")
    impostor = ServiceProcess(impostor_home, credentials_dir, port=practice.port).start()
    try:
        _at, failed = sprechzimmer.wait(lambda e: e["event"] == "failed" and e["action"] == "service", 60,
                                        "the refusal", mark)
        assert "nicht der Praxis-Dienst, mit dem dieser Arbeitsplatz gekoppelt wurde" in failed["message"]
        assert "paired with" not in failed["message"]
    finally:
        impostor.stop()
        kill_agents(impostor_home)
