"""The command line at a workstation: through the practice service, and when it is away a
clear message, nothing half-done (the action's key kept and settled at the next command),
and a reconnect by itself."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import kill_agents, short_tmpdir
from tests.support.service import EMPTY_POLICY, ServiceProcess, accepted_count, open_request, pair_home
from tests.support.waiting import wait_for
from tests.support.worlds import World

pytestmark = pytest.mark.slow


@pytest.fixture
def workstation(practice: ServiceProcess) -> Iterator[Path]:
    home = short_tmpdir("pccli")
    pair_home(practice, home, "Empfang")
    yield home
    kill_agents(home)


def cli(home: Path, *args: str, wait: float = 30.0) -> subprocess.Popen[str]:
    env = dict(os.environ, PRACTICE_CLIENT_HOME=str(home), PRACTICE_CLIENT_POLICY=str(EMPTY_POLICY),
               PRACTICE_CLIENT_SERVICE_WAIT=str(wait))
    return subprocess.Popen([sys.executable, "-m", "practice_client", *args], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def run(home: Path, *args: str, wait: float = 30.0) -> tuple[int, str, str]:
    process = cli(home, *args, wait=wait)
    out, err = process.communicate(timeout=180)
    return process.returncode, out, err


def pending(home: Path) -> dict[str, str]:
    path = home / "pending-commands.json"
    return json.loads(path.read_text()) if path.exists() else {}


def test_the_command_line_of_a_workstation_decides_through_the_service(
        practice: ServiceProcess, workstation: Path, world: World,  # noqa: F811
        monkeypatch: pytest.MonkeyPatch) -> None:
    request_id = open_request(practice, world, monkeypatch)
    code, out, err = run(workstation, "request", "accept", request_id)
    assert code == 0, err
    assert "request accepted" in out and accepted_count(practice, request_id, monkeypatch) == 1
    assert pending(workstation) == {} and not (workstation / "state.sqlite3").exists()
    # what only the practice's own home has is refused here, in one line, nothing created
    code, _out, err = run(workstation, "request", "list")
    assert code != 0 and len(err.strip().splitlines()) == 1 and "works through the practice service" in err
    assert not (workstation / "state.sqlite3").exists()


def test_a_service_that_stays_away_ends_the_command_clearly_and_the_next_one_settles_it(
        practice: ServiceProcess, workstation: Path, world: World,  # noqa: F811
        monkeypatch: pytest.MonkeyPatch) -> None:
    request_id = open_request(practice, world, monkeypatch)
    practice.kill9()
    code, _out, err = run(workstation, "request", "accept", request_id, wait=1.0)
    assert code == 1
    last = err.strip().splitlines()[-1]
    assert "cannot be reached" in last and "the action is not confirmed" in last, err
    assert list(pending(workstation).values()) == [f"request accept {request_id}"]  # kept, not forgotten
    practice.start()
    code, _out, err = run(workstation, "request", "accept", request_id)
    assert code == 0, err
    assert f"an earlier action was not applied: request accept {request_id}" in err  # it never arrived
    assert pending(workstation) == {}
    assert accepted_count(practice, request_id, monkeypatch) == 1  # applied once, by the second


def test_the_command_line_waits_for_the_service_and_reconnects_by_itself(
        practice: ServiceProcess, workstation: Path, world: World,  # noqa: F811
        monkeypatch: pytest.MonkeyPatch) -> None:
    request_id = open_request(practice, world, monkeypatch)
    practice.kill9()
    process = cli(workstation, "request", "accept", request_id, wait=120.0)
    lines: list[str] = []

    def read() -> None:
        assert process.stderr is not None
        lines.extend(process.stderr)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    wait_for(lambda: any("trying again" in line for line in lines), 60, "the command line to wait")
    practice.start()  # back: the same command, resent with its key, is applied once
    assert process.wait(120) == 0, lines
    reader.join(30)
    assert process.stdout is not None and "request accepted" in process.stdout.read()
    assert accepted_count(practice, request_id, monkeypatch) == 1 and pending(workstation) == {}
