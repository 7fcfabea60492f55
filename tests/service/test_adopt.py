"""The service adopts an existing single-user home with data: its practice key, pins,
requests and the outbox go on working in the service; a refused adoption changes
nothing; an adoption cut off half-way keeps the service from starting and finishes when
run again."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from practice_client.context import Context
from practice_client.core.models import DocumentState, RequestStatus
from practice_client.core.paths import Home
from practice_client.core.policy import Policy
from practice_client.core.secrets import Secrets
from practice_client.delivery.locks import FileLock
from practice_client.delivery.outbox import add_files
from practice_client.service.adopt import MARKER, adopt
from practice_client.service.files import ServiceFiles
from practice_client.service.vault import SystemdCredential, Vault
from tests.support.service import EMPTY_POLICY, ServiceProcess
from tests.support.waiting import wait_for
from tests.support.worlds import World, accepted_request, pin_patient

pytestmark = pytest.mark.slow


@dataclass
class OldHome:
    ctx: Context
    request_id: str
    fingerprint: str

    @property
    def root(self) -> Path:
        return self.ctx.home.root


@pytest.fixture
def old_home(client: Context, world: World) -> Iterator[OldHome]:  # noqa: F811
    """Today's single-user home with a practice in use: a pinned patient, an accepted
    request, a document waiting in the outbox (no agent ran to deliver it)."""
    pinned_ca = client.home.root / "platform-ca.pem"  # where setup puts it (a copy of the template's)
    shutil.copyfile(world.platform.ca_file, pinned_ca)
    client.update_config(ca_file=str(pinned_ca))
    patient = pin_patient(client, world, "1001")
    request_id = accepted_request(client, patient.fingerprint, "1001")
    befund = client.home.root / "befund.pdf"
    befund.write_bytes(b"%PDF-1.7 Befund " + os.urandom(3000))
    add_files(client, [befund], request_id)
    befund.unlink()
    yield OldHome(client, request_id, patient.fingerprint)


def run_adopt(source: Path, target: Path, credentials: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, CREDENTIALS_DIRECTORY=str(credentials), PRACTICE_CLIENT_POLICY=str(EMPTY_POLICY))
    env.pop("PRACTICE_CLIENT_HOME", None)
    return subprocess.run([sys.executable, "-m", "practice_client", "service", "adopt", "--from", str(source),
                           "--home", str(target)], env=env, capture_output=True, text=True, timeout=180)


def service_view(home: Path, credentials: Path, monkeypatch: pytest.MonkeyPatch) -> Context:
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(credentials))
    return Context(Home(home), secrets=Vault(ServiceFiles(Home(home)).vault, SystemdCredential()))


def test_the_service_adopts_a_home_with_its_key_pins_requests_and_outbox(
        old_home: OldHome, world: World, service_home: Path, credentials_dir: Path,  # noqa: F811
        monkeypatch: pytest.MonkeyPatch) -> None:
    request_id, fingerprint = old_home.request_id, old_home.fingerprint
    practice_key = old_home.ctx.config.practice_key_fingerprint
    source = old_home.root
    old_home.ctx.close()
    done = run_adopt(source, service_home, credentials_dir)
    assert done.returncode == 0, done.stderr
    assert f"practice key {practice_key}, 1 requests, 1 documents" in done.stdout
    assert not (source / "state.sqlite3").exists() and not (source / "gnupg").exists()  # no second agent
    assert len(list(source.glob("adopted-by-service-*/state.sqlite3"))) == 1
    assert not (service_home / MARKER).exists() and not (service_home / "adopting").exists()
    vault = Vault(ServiceFiles(Home(service_home)).vault, SystemdCredential())
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(credentials_dir))
    assert vault.get("database-key") == Secrets(Home(source).instance_id()).get("database-key")

    service = ServiceProcess(service_home, credentials_dir).start()
    try:
        ctx = service_view(service_home, credentials_dir, monkeypatch)
        try:
            assert ctx.config.ca_file == str(service_home / "platform-ca.pem")  # paths into the old home moved
            record = ctx.store.get_request(request_id)
            assert record is not None and record.status is RequestStatus.ACCEPTED
            assert ctx.store.get_pin(fingerprint) is not None
            # the document that waited in the old home's outbox is delivered by the service
            delivered = wait_for(lambda: ctx.store.list_documents([DocumentState.DELIVERED]), 90, "the delivery")
            assert delivered[0].request_id == request_id
            events = [e["event"] for e in ctx.store.audit.entries()]
            assert "service.adopted_home" in events and "document.delivered" in events
        finally:
            ctx.close()
        admin = service.workstation("admin", "Chefin")
        assert admin.me()["role"] == "admin"  # the adopted practice serves workstations
    finally:
        service.stop()


def test_an_adoption_that_is_refused_changes_nothing(old_home: OldHome, service: ServiceProcess) -> None:
    source = old_home.root
    old_home.ctx.close()
    (source / "agent.lock").touch()  # what the agent's lock leaves
    before = sorted(p.name for p in source.iterdir())
    done = run_adopt(source, service.home, service.credentials)  # the service runs
    assert done.returncode != 0 and "the practice service is running: stop it first" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    service.stop()
    with FileLock(source / "agent.lock"):  # the single-user agent still runs on the home
        done = run_adopt(source, service.home, service.credentials)
    assert done.returncode != 0 and "the agent or the app runs on this home" in done.stderr
    assert sorted(p.name for p in source.iterdir()) == before
    assert not (service.home / "adopting").exists() and not (service.home / MARKER).exists()
    assert not (service.home / "config.toml").exists()


class _CutOff(Vault):
    """The vault of a machine that loses power after the first secret is written."""

    writes = 0

    def set(self, name: str, value: str) -> None:
        if self.writes == 1:
            raise OSError("power lost")
        super().set(name, value)
        self.writes += 1


def test_an_adoption_cut_off_half_way_blocks_the_service_and_finishes_when_run_again(
        old_home: OldHome, service_home: Path, credentials_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source = Home(old_home.root)
    old_home.ctx.close()
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(credentials_dir))
    files = ServiceFiles(Home(service_home))
    files.folder.mkdir(parents=True)
    with pytest.raises(OSError, match="power lost"):
        adopt(source, Secrets(source.instance_id()), Home(service_home),
              _CutOff(files.vault, SystemdCredential()), Policy())
    assert (service_home / MARKER).exists() and (source.root / "state.sqlite3").exists()
    with pytest.raises(AssertionError, match="the adoption of a home is not finished"):
        ServiceProcess(service_home, credentials_dir).start()
    done = run_adopt(source.root, service_home, credentials_dir)  # again: it continues
    assert done.returncode == 0, done.stderr
    assert not (service_home / MARKER).exists() and (service_home / "state.sqlite3").exists()
    ctx = service_view(service_home, credentials_dir, monkeypatch)
    try:
        assert len(ctx.store.list_requests()) == 1 and len(ctx.store.list_documents()) == 1
    finally:
        ctx.close()


def test_adoption_refuses_a_service_with_a_practice(old_home: OldHome, service_home: Path,
                                                    credentials_dir: Path) -> None:
    (service_home / "config.toml").write_text('practice_key_fingerprint = "' + "A" * 40 + '"\n')
    old_home.ctx.close()
    done = run_adopt(old_home.root, service_home, credentials_dir)
    assert done.returncode != 0 and "has a practice of its own already" in done.stderr
    assert (old_home.root / "state.sqlite3").exists() and (old_home.root / "gnupg").exists()
