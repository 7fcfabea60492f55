"""The systemd unit of the practice service, run as systemd would run it.

systemd cannot run as PID 1 here (this machine's PID 1 is another process manager; a
systemd started in a PID namespace would start the machine's other units too), so
``systemd-analyze verify`` checks the unit file and :class:`UnitSupervisor` does what
systemd does with it: decrypt ``LoadCredentialEncrypted=`` with ``systemd-creds`` into
``$CREDENTIALS_DIRECTORY``, create ``StateDirectory=``/``RuntimeDirectory=`` and pass them
as ``$STATE_DIRECTORY``/``$RUNTIME_DIRECTORY``, run ``ExecStart=`` - its exact arguments,
only the program path of the installed bundle replaced by this checkout's entry point -
and restart it as ``Restart=on-failure`` says: after a crash or ``kill -9`` (after
``RestartSec=``), never after a clean stop.
"""

from __future__ import annotations

import configparser
import shlex
import shutil
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from practice_client.service.client import ServiceClient
from practice_client.service.connection import Connection
from practice_client.service.files import DEFAULT_PORT
from practice_client.service.pairing import pair_with_service
from practice_client.service.vault import VAULT_KEY_NAME, create_systemd_credential
from tests.conftest import require, short_tmpdir
from tests.support.service import EMPTY_POLICY, decrypt_credential
from tests.support.waiting import wait_for

UNIT = Path(__file__).resolve().parents[2] / "installer" / "linux" / "practice-client.service"
INSTALLED_PROGRAM = "/opt/practice-client/practice-client"
CLEAN_SIGNALS = {signal.SIGHUP, signal.SIGINT, signal.SIGTERM, signal.SIGPIPE}


def read_unit(path: Path = UNIT) -> configparser.RawConfigParser:
    parser = configparser.RawConfigParser(strict=False, delimiters=("=",))
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # keys are case-sensitive
    parser.read_string(path.read_text(encoding="utf-8"))
    return parser


class UnitSupervisor:
    """systemd's part for one simple service unit (see the module doc)."""

    def __init__(self, unit: configparser.RawConfigParser, root: Path, credential_files: dict[str, Path]) -> None:
        service = unit["Service"]
        assert service["Type"] == "simple"
        self.argv = shlex.split(service["ExecStart"])
        assert self.argv[0] == INSTALLED_PROGRAM
        self.restart, self.restart_sec = service["Restart"], float(service["RestartSec"])
        self.state = root / "var" / "lib" / service["StateDirectory"]
        self.runtime = root / "run" / service["RuntimeDirectory"]
        self.credentials = root / "run" / "credentials" / "practice-client.service"
        self.loads = [entry.split(":", 1) for entry in service["LoadCredentialEncrypted"].split()]
        self.credential_files = credential_files
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.inactive = threading.Event()

    def _spawn(self) -> None:
        for name, _path in self.loads:  # what systemd decrypts before every start
            decrypt_credential(self.credential_files[name], self.credentials, name)
        for folder in (self.state, self.runtime):
            folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        env = {"PATH": "/usr/bin:/bin", "STATE_DIRECTORY": str(self.state), "RUNTIME_DIRECTORY": str(self.runtime),
               "CREDENTIALS_DIRECTORY": str(self.credentials), "PRACTICE_CLIENT_POLICY": str(EMPTY_POLICY),
               "HOME": str(self.state)}
        self.process = subprocess.Popen([sys.executable, "-m", "practice_client", *self.argv[1:]], env=env,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.starts += 1

    def start(self) -> None:
        self._spawn()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()

    def _watch(self) -> None:
        while True:
            assert self.process is not None
            code = self.process.wait()
            failed = code > 0 or (code < 0 and signal.Signals(-code) not in CLEAN_SIGNALS)
            if self._stop.is_set() or self.restart != "on-failure" or not failed:
                self.inactive.set()
                return
            if self._stop.wait(self.restart_sec):
                self.inactive.set()
                return
            self._spawn()

    def stop(self) -> None:
        """``systemctl stop``: SIGTERM, no restart."""
        self._stop.set()
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        self.inactive.wait(90)


def test_the_unit_file_is_valid_and_hardened(tmp_path: Path) -> None:
    unit = read_unit()
    service = unit["Service"]
    assert service["User"] == "practice-client" and service["Restart"] == "on-failure"
    assert service["ProtectSystem"] == "strict" and service["NoNewPrivileges"] == "yes"
    assert service["CapabilityBoundingSet"] == "" and service["UMask"] == "0077"
    assert service["LoadCredentialEncrypted"].split(":")[0] == VAULT_KEY_NAME
    assert unit["Install"]["WantedBy"] == "multi-user.target"
    require(shutil.which("systemd-analyze") is not None, "systemd-analyze")
    local = tmp_path / "practice-client.service"  # the same unit, its program one that exists here
    local.write_text(UNIT.read_text().replace(INSTALLED_PROGRAM, sys.executable))
    result = subprocess.run(["systemd-analyze", "verify", str(local)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and "Unknown" not in result.stderr, result.stderr


def test_the_unit_runs_the_service_and_restarts_it_after_kill_9(tmp_path: Path) -> None:
    require(shutil.which("systemd-creds") is not None, "systemd-creds (systemd 250+)")
    root = short_tmpdir("pcunit")
    vault_key = root / "etc" / "credstore.encrypted" / VAULT_KEY_NAME
    create_systemd_credential(vault_key)  # what install.sh SERVICE=1 does, with the same command
    supervisor = UnitSupervisor(read_unit(), root, {VAULT_KEY_NAME: vault_key})
    endpoint = supervisor.state / "service" / "endpoint.json"

    def listening_pid() -> int:
        import json

        try:
            return int(json.loads(endpoint.read_text())["pid"])
        except (OSError, ValueError, KeyError):
            return 0

    supervisor.start()
    try:
        wait_for(lambda: supervisor.process and listening_pid() == supervisor.process.pid, 60, "the unit's service")
        assert (supervisor.runtime / "control-token").is_file()  # in the RuntimeDirectory, not the data
        from practice_client.core.paths import Home
        from practice_client.service.control import control

        home = Home(supervisor.state)
        code = control(home, "POST", "/v1/control/pair", {"role": "staff", "name": "Empfang"})["code"]
        paired = pair_with_service("127.0.0.1", DEFAULT_PORT, code, {"hostname": "ws", "os_user": "mfa"})
        client = ServiceClient(Connection("127.0.0.1", DEFAULT_PORT, paired.pin, paired.cert_pem,
                                          paired.workstation_id, paired.name, paired.role), paired.credential)
        first = supervisor.process
        assert first is not None
        first.send_signal(signal.SIGKILL)
        wait_for(lambda: supervisor.starts == 2 and listening_pid() == supervisor.process.pid, 60, "the restart")
        assert client.me()["name"] == "Empfang"  # same vault, same certificate, same workstations
        assert not supervisor.inactive.is_set()
        supervisor.stop()  # SIGTERM: a clean exit, not restarted
        assert supervisor.inactive.is_set() and supervisor.process is not None
        assert supervisor.process.returncode == 0 and supervisor.starts == 2
    finally:
        supervisor.stop()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(autouse=True)
def _port_free() -> None:
    import socket

    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("0.0.0.0", DEFAULT_PORT))  # noqa: S104 - the unit's own address
        except OSError:
            pytest.fail(f"port {DEFAULT_PORT} (the unit's) is taken on this machine")


def test_the_feed_carries_an_agent_notice_in_both_languages_apart() -> None:
    """The change feed's form of each agent event (a tagged union): a failure's text goes
    to every workstation in German and English apart, progress with its phase."""
    from practice_client.core.models import DocumentState
    from practice_client.core.text import Text
    from practice_client.delivery.events import Connected, Failure, Phase, Progress, StateChanged
    from practice_client.service.feed import agent_event

    failure = agent_event(Failure(Text("Server nicht erreichbar", "server unreachable"), "d1"))
    assert failure == {"type": "notice", "kind": "failure", "message": "Server nicht erreichbar / server unreachable",
                       "text": {"de": "Server nicht erreichbar", "en": "server unreachable"}, "count": 0}
    assert agent_event(Progress("d1", Phase.UPLOADING, 5, 10)) == {
        "type": "progress", "document_id": "d1", "phase": "uploading", "done": 5, "total": 10}
    assert agent_event(Connected()) == {"type": "platform", "state": "connected"}
    assert agent_event(StateChanged("d1", DocumentState.DELIVERED)) is None  # the store's change went out
