"""The Windows service's logic, on every system: the states the service control manager
sees around a real :class:`PracticeService` (real TLS on loopback), a stop that comes
before the service listens, and the exit code that makes the control manager's recovery
restart a failed service. The pywin32 adapter itself needs Windows."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from practice_client.core.errors import StateError
from practice_client.core.paths import Home
from practice_client.service import windows
from practice_client.service.adopt import MARKER
from practice_client.service.daemon import PracticeService
from practice_client.service.windows import RUNNING, START_PENDING, STOP_PENDING, ServiceHost
from tests.conftest import short_tmpdir
from tests.support.service import EMPTY_POLICY
from tests.support.waiting import wait_for


class FixedKey:
    description = "test key"

    def __init__(self, key: bytes = b"k" * 32) -> None:
        self.key = key

    def vault_key(self) -> bytes:
        return self.key


@pytest.fixture
def home() -> Iterator[Home]:
    root = short_tmpdir("pcwin")
    yield Home(root)
    import shutil

    shutil.rmtree(root, ignore_errors=True)


class Manager:
    """The service control manager's side: the states reported, in order."""

    def __init__(self) -> None:
        self.states: list[str] = []
        self.changed = threading.Event()

    def report(self, state: str) -> None:
        self.states.append(state)
        self.changed.set()


def run_in_thread(host: ServiceHost) -> tuple[threading.Thread, list[int]]:
    codes: list[int] = []
    thread = threading.Thread(target=lambda: codes.append(host.run()), daemon=True)
    thread.start()
    return thread, codes


def test_the_manager_sees_start_running_stop_and_a_clean_exit(home: Home, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PRACTICE_CLIENT_POLICY", str(EMPTY_POLICY))
    manager = Manager()
    made: list[PracticeService] = []

    def make() -> PracticeService:
        made.append(PracticeService(home, "127.0.0.1", 0, provider=FixedKey()))
        return made[0]

    host = ServiceHost(make, manager.report)
    thread, codes = run_in_thread(host)
    wait_for(lambda: RUNNING in manager.states, 60, "RUNNING")
    assert manager.states == [START_PENDING, RUNNING]
    assert made[0].files.endpoint.exists()  # RUNNING only once the API listens
    host.stop()
    thread.join(60)
    assert codes == [0] and manager.states == [START_PENDING, RUNNING, STOP_PENDING]
    assert not made[0].files.endpoint.exists()


def test_a_stop_before_the_service_listens_ends_it_without_running(home: Home) -> None:
    manager = Manager()
    host: ServiceHost

    def make() -> PracticeService:
        host.stop()  # the manager's stop arrives while the service is being made
        return PracticeService(home, "127.0.0.1", 0, provider=FixedKey())

    host = ServiceHost(make, manager.report)
    assert host.run() == 0
    assert manager.states == [START_PENDING, STOP_PENDING]


@pytest.mark.parametrize("broken", ["wrong vault key", "unfinished adoption"])
def test_a_service_that_cannot_start_exits_with_a_failure(home: Home, broken: str,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """Exit code 1 (the adapter then ends the process without reporting a stop), so the
    control manager applies its recovery actions; never RUNNING."""
    monkeypatch.setenv("PRACTICE_CLIENT_POLICY", str(EMPTY_POLICY))
    first = PracticeService(home, "127.0.0.1", 0, provider=FixedKey())
    host = ServiceHost(lambda: first, Manager().report)
    thread, _codes = run_in_thread(host)
    wait_for(first.ready.is_set, 60, "the first start")
    host.stop()
    thread.join(60)
    if broken == "wrong vault key":
        service = PracticeService(home, "127.0.0.1", 0, provider=FixedKey(b"x" * 32))
    else:
        (home.root / MARKER).write_text("{}")
        service = PracticeService(home, "127.0.0.1", 0, provider=FixedKey())
    manager = Manager()
    assert ServiceHost(lambda: service, manager.report).run() == 1
    assert manager.states == [START_PENDING]


@pytest.mark.skipif(sys.platform == "win32",
                    reason="on Windows dispatch hands the process to the service control manager")
def test_dispatch_off_windows_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(StateError, match="this is not Windows"):
        windows.dispatch(tmp_path, lambda: None)
    env = dict(os.environ, PRACTICE_CLIENT_POLICY=str(EMPTY_POLICY))
    done = subprocess.run([sys.executable, "-m", "practice_client", "service", "run", "--windows-service",
                           "--home", str(tmp_path / "svc"), "--listen", "127.0.0.1:0"],
                          capture_output=True, text=True, timeout=60, env=env)
    assert done.returncode != 0 and len(done.stderr.strip().splitlines()) == 1
    assert "--windows-service: this is not Windows" in done.stderr
    assert not (tmp_path / "svc").exists()  # nothing written


def test_the_service_name_is_the_msis() -> None:
    import xml.etree.ElementTree as ET

    wxs = Path(__file__).resolve().parents[2] / "installer" / "windows" / "practice-client.wxs"
    ns = {"w": "http://schemas.microsoft.com/wix/2006/wi"}
    root = ET.parse(wxs).getroot()
    install = root.find(".//w:ServiceInstall", ns)
    assert install is not None and install.get("Name") == windows.SERVICE_NAME
    assert install.get("Arguments", "").startswith("service run --windows-service")
