"""The practice service for tests: a real service process (``practice-client service run``)
over real TLS on loopback, its vault key a real systemd credential, workstations paired
with real one-time codes, and a testbed platform behind it.

The vault key is made with ``systemd-creds encrypt`` (this machine's host key) and
decrypted with ``systemd-creds decrypt`` into a private folder in memory, which is what
systemd does for ``LoadCredentialEncrypted=`` before it starts the unit; the service
reads it from ``$CREDENTIALS_DIRECTORY`` exactly as under systemd.

The fixtures ``credentials_dir``, ``service_home``, ``service`` and ``practice`` are
imported by the conftest files that use them (tests/service, tests/installer).
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from practice_client.core.paths import Home
from practice_client.service.client import ServiceClient
from practice_client.service.connection import Connection
from practice_client.service.files import ServiceFiles
from practice_client.service.pairing import pair_with_service
from practice_client.service.vault import VAULT_KEY_NAME, create_systemd_credential
from tests.conftest import require, short_tmpdir
from tests.support.waiting import wait_for

ROOT = Path(__file__).resolve().parents[2]
EMPTY_POLICY = ROOT / "tests" / "data" / "empty-policy.toml"


def decrypt_credential(cred: Path, folder: Path, name: str = VAULT_KEY_NAME) -> None:
    """What systemd does for LoadCredentialEncrypted=NAME:FILE before the unit starts."""
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    subprocess.run(["systemd-creds", "decrypt", f"--name={name}", str(cred), str(folder / name)],
                   check=True, capture_output=True, timeout=60)
    (folder / name).chmod(0o400)


@pytest.fixture(scope="session")
def credentials_dir() -> Iterator[Path]:
    """A vault key as a systemd credential of this machine, decrypted as systemd would."""
    require(shutil.which("systemd-creds") is not None, "systemd-creds (systemd 250+)")
    root = short_tmpdir("pcsc")
    cred = root / "vault-key.cred"
    create_systemd_credential(cred)
    shm = Path(tempfile_dir())
    decrypt_credential(cred, shm)
    yield shm
    shutil.rmtree(shm, ignore_errors=True)
    shutil.rmtree(root, ignore_errors=True)


def tempfile_dir() -> str:
    import tempfile

    return tempfile.mkdtemp(prefix="pccreds", dir="/dev/shm" if Path("/dev/shm").is_dir() else None)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class ServiceProcess:
    """``practice-client service run`` in a process of its own (killable, restartable)."""

    home: Path
    credentials: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    extra_env: dict[str, str] = field(default_factory=dict)

    @property
    def files(self) -> ServiceFiles:
        return ServiceFiles(Home(self.home))

    def env(self) -> dict[str, str]:
        env = dict(os.environ, CREDENTIALS_DIRECTORY=str(self.credentials), PRACTICE_CLIENT_POLICY=str(EMPTY_POLICY))
        env.pop("PRACTICE_CLIENT_HOME", None)
        env.update(self.extra_env)
        return env

    def start(self) -> ServiceProcess:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "practice_client", "service", "run", "--home", str(self.home),
             "--listen", f"127.0.0.1:{self.port}"],
            env=self.env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self.wait_ready()
        return self

    def wait_ready(self, timeout: float = 60.0) -> None:
        process = self.process
        assert process is not None

        def ready() -> bool:
            if process.poll() is not None:
                raise AssertionError(f"the service exited ({process.returncode}): "
                                     f"{process.stderr.read().decode()[-2000:] if process.stderr else ''}")
            try:
                return int(json.loads(self.files.endpoint.read_text())["pid"]) == process.pid
            except (OSError, ValueError, KeyError):
                return False

        wait_for(ready, timeout, "the practice service to listen")

    def kill9(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(30)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(30)

    def control(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        from practice_client.service.control import control

        return control(Home(self.home), method, path, body)

    def code(self, role: str = "staff", name: str = "") -> str:
        return str(self.control("POST", "/v1/control/pair", {"role": role, "name": name})["code"])

    def workstation(self, role: str = "staff", name: str = "Empfang", os_user: str = "mfa1") -> ServiceClient:
        paired = pair_with_service("127.0.0.1", self.port, self.code(role, name),
                                   {"hostname": "ws", "os_user": os_user})
        connection = Connection("127.0.0.1", self.port, paired.pin, paired.cert_pem, paired.workstation_id,
                                paired.name, paired.role)
        return ServiceClient(connection, paired.credential, os_user=os_user)


@pytest.fixture
def service_home(work_dir: Path) -> Path:
    """The service's home: a short scratch folder (its agents stopped after)."""
    return work_dir


@pytest.fixture
def service(service_home: Path, credentials_dir: Path) -> Iterator[ServiceProcess]:
    """A running service with a fresh home (not set up)."""
    running = ServiceProcess(service_home, credentials_dir).start()
    yield running
    running.stop()


def setup_args(world: Any, export_dir: Path) -> dict[str, Any]:
    """The admin's setup of the practice, as the wizard sends it (testbed platform)."""
    return {"server_url": world.platform.url, "practice_id": "praxis-test", "platform_domain": "testbed.invalid",
            "ident_key": world.authority.public_key(), "ca": world.platform.ca_file.read_text(),
            "token": world.platform.token, "export_dir": str(export_dir), "offline": False}


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


@pytest.fixture
def practice(service: ServiceProcess, world: Any) -> Iterator[ServiceProcess]:
    """A running service whose practice an admin workstation has set up (the testbed
    platform of ``world``), at test speed."""
    admin = service.workstation("admin", "Chefin")
    export = service.home / "export"
    outcome = admin.command("setup", setup_args(world, export))
    assert outcome.applied and not outcome.error, outcome.error
    assert outcome.result["registered"] and outcome.result["created"]
    admin.command("settings.save", {"changes": {"stable_seconds": 0.3, "rescan_seconds": 2.0,
                                                "sidecar_grace_seconds": 1.0}})
    admin.close()
    yield service


def service_context(service: ServiceProcess, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The test's own view of the service's store (as an admin's diagnostics would read it)."""
    from practice_client.context import Context
    from practice_client.service.vault import SystemdCredential, Vault

    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(service.credentials))
    return Context(Home(service.home), secrets=Vault(service.files.vault, SystemdCredential()))


def pair_home(service: ServiceProcess, home: Path, name: str, role: str = "staff") -> None:
    """``practice-client connect`` with a code from ``service pair``, as the admin does it."""
    code = service.code(role, name)
    env = dict(os.environ, PRACTICE_CLIENT_HOME=str(home), PRACTICE_CLIENT_POLICY=str(EMPTY_POLICY))
    done = subprocess.run([sys.executable, "-m", "practice_client", "connect", f"127.0.0.1:{service.port}"],
                          input=code + "\n", capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr


def open_request(practice: ServiceProcess, world: Any, monkeypatch: pytest.MonkeyPatch) -> str:
    """A verified request waiting for staff (intake's part, written into the service's store)."""
    from practice_client.core.models import RequestStatus
    from tests.support.worlds import accepted_request, pin_patient

    ctx = service_context(practice, monkeypatch)
    try:
        patient = pin_patient(ctx, world, "1001")  # master data and pin, as staff set them up
        return accepted_request(ctx, patient.fingerprint, "1001", status=RequestStatus.OPEN)
    finally:
        ctx.close()


def accepted_count(practice: ServiceProcess, request_id: str, monkeypatch: pytest.MonkeyPatch) -> int:
    ctx = service_context(practice, monkeypatch)
    try:
        return sum(1 for e in ctx.store.audit.entries()
                   if e["event"] == "request.accepted" and e["details"].get("request_id") == request_id)
    finally:
        ctx.close()


def audit_entries(service: ServiceProcess, event: str) -> list[dict[str, Any]]:
    """The service's audit entries of one event, read from its log as an auditor would."""
    lines = (service.home / "audit.jsonl").read_text(encoding="utf-8").splitlines()
    return [entry for entry in map(json.loads, lines) if entry["event"] == event]
