"""The World of delivery and GUI tests: one testbed platform, identity authority and the
simulated test patients per session (slow to make), and for each test a fresh client
home copied from a template that was set up once against that platform.

Real components throughout: gpg, HTTPS to the testbed, watchdog, the OS keyring.
The fixtures ``world`` and ``client`` are imported by the conftest files that use them."""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
import shutil
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from practice_client.context import Context
from practice_client.core.models import (
    Document,
    DocumentState,
    RequestRecord,
    RequestStatus,
    Verdict,
)
from practice_client.crypto.trust import pin_certificate, verify_certificate_text
from practice_client.provision import SetupParams, provision
from practice_client.testbed.identity import IdentityAuthority
from practice_client.testbed.implementations import preferred_implementation
from practice_client.testbed.patient import SimulatedPatient
from practice_client.testbed.platform import TestbedPlatform
from tests.conftest import kill_agents, require, short_tmpdir
from tests.support.patients import PATIENTS
from tests.support.waiting import wait_for


@dataclass
class World:
    root: Path
    platform: TestbedPlatform
    authority: IdentityAuthority
    patients: dict[str, SimulatedPatient]
    template: Path
    practice_key: str = ""
    extra: dict[str, object] = field(default_factory=dict)


def keyring_ok() -> None:
    import keyring

    backend = keyring.get_keyring()
    name = f"{type(backend).__module__}.{type(backend).__name__}"
    require("fail" not in name and "keyrings.alt" not in name,
            f"a real OS keyring backend (got {name}; run through scripts/with-keyring)")
    require(shutil.which("gpg") is not None, "gpg")


def provisioned_template(template: Path, params: SetupParams) -> str:
    """A client home set up once (copied for every test); the practice's public key."""
    saved = os.environ.get("PRACTICE_CLIENT_HOME")
    os.environ["PRACTICE_CLIENT_HOME"] = str(template)
    try:
        ctx = Context()
        provision(ctx, params)
        practice_key = ctx.gpg.export_public(ctx.config.practice_key_fingerprint)
        ctx.close()
    finally:
        if saved is None:
            os.environ.pop("PRACTICE_CLIENT_HOME", None)
        else:
            os.environ["PRACTICE_CLIENT_HOME"] = saved
    return practice_key


def publish_server_copies(platform: TestbedPlatform, patients: Iterable[SimulatedPatient]) -> None:
    """The server's copy of each patient key (compared by the client, never used)."""
    for patient in patients:
        (platform.data_dir / "patients" / f"{patient.fingerprint}.asc").write_text(patient.public_key())


@pytest.fixture(scope="session")
def world() -> Iterator[World]:
    keyring_ok()
    root = short_tmpdir("pdw")
    os.environ["PRACTICE_CLIENT_POLICY"] = str(Path(__file__).parent.parent / "data" / "empty-policy.toml")
    platform = TestbedPlatform(root / "platform").start()
    authority = IdentityAuthority.create(root / "ident")
    ident_file = root / "ident.asc"
    ident_file.write_text(authority.public_key(), encoding="ascii")
    app = preferred_implementation()  # patients' apps are not built on GnuPG: OpenPGP.js or Sequoia
    if os.environ.get("CI") == "true":
        require(app != "gnupg", "a patient app on OpenPGP.js (make install) or Sequoia (sq)")
    patients = {
        p.patient_number: SimulatedPatient.create(root / f"p{p.patient_number}", p.name, p.birth_date, p.phone,
                                                  implementation=app)
        for p in PATIENTS
    }
    template = root / "home"
    practice_key = provisioned_template(template, SetupParams(
        server_url=platform.url, practice_id="praxis-test", platform_domain="testbed.invalid",
        ident_key_file=ident_file, ca_file=platform.ca_file, token=platform.token,
        export_dir=template / "export",
    ))
    publish_server_copies(platform, patients.values())
    world = World(root, platform, authority, patients, template, practice_key)
    yield world
    tear_down(root, platform, authority, patients.values())


def tear_down(root: Path, platform: TestbedPlatform, authority: IdentityAuthority,
              patients: Iterable[SimulatedPatient]) -> None:
    platform.stop()
    for patient in patients:
        patient.close()
    authority.close()
    kill_agents(root)
    shutil.rmtree(root, ignore_errors=True)


def copy_home(template: Path, target: Path) -> None:
    def skip(folder: str, names: list[str]) -> list[str]:
        return [n for n in names if n.startswith("S.") or n in ("export", "spool")]

    shutil.copytree(template, target, ignore=skip, dirs_exist_ok=True)


@contextlib.contextmanager
def fresh_home(template: Path, monkeypatch: pytest.MonkeyPatch, **config: object) -> Iterator[Context]:
    """A copy of the set-up template with its own database, export folder and spool, and
    test-speed timings; removed afterwards."""
    home = short_tmpdir("pch")
    copy_home(template, home)
    monkeypatch.setenv("PRACTICE_CLIENT_HOME", str(home))
    ctx = Context()
    ctx.update_config(export_dir=str(home / "export"), stable_seconds=0.3, rescan_seconds=2.0,
                      poll_seconds=3600.0, sidecar_grace_seconds=1.0, **config)
    (home / "export").mkdir(exist_ok=True)
    try:
        yield ctx
    finally:
        ctx.close()
        kill_agents(home)
        shutil.rmtree(home, ignore_errors=True)


@pytest.fixture
def client(world: World, monkeypatch: pytest.MonkeyPatch) -> Iterator[Context]:
    """A fresh, set-up client home (its own database, export folder and spool)."""
    with fresh_home(world.template, monkeypatch) as ctx:
        yield ctx


def pin_patient(ctx: Context, world: World, number: str) -> SimulatedPatient:
    """Master data + verified trust certificate + pin, as staff would do it."""
    record = next(p for p in PATIENTS if p.patient_number == number)
    patient = world.patients[number]
    ctx.store.upsert_patients([record], "test")
    text = patient.trust_certificate(world.authority)
    cert = verify_certificate_text(text, "test.trust.asc", world.authority.public_key(),
                                   world.authority.fingerprint)
    pin_certificate(ctx, cert, record, replace=False)
    return patient


def accepted_request(ctx: Context, fingerprint: str | None, number: str | None,
                     expires_in: float = 86400.0, status: RequestStatus = RequestStatus.ACCEPTED) -> str:
    """A verified request in the store, accepted by staff (intake's part, done directly)."""
    from datetime import UTC, datetime, timedelta

    request_id = str(uuid.uuid4())
    raw = f"Message-ID: <{request_id}@test>\r\n\r\n{secrets.token_hex(8)}".encode()
    sha, _ = ctx.store.store_message(raw, "test")
    now = datetime.now(UTC)
    ctx.store.add_request(RequestRecord(
        request_id=request_id, message_sha256=sha, received_at=now.isoformat(), source="test",
        verdict=Verdict.VERIFIED, checks=[], status=RequestStatus.OPEN,
        patient_fingerprint=fingerprint, patient_number=number, summary={"request_id": request_id},
        expires_at=(now + timedelta(seconds=expires_in)).strftime("%Y-%m-%dT%H:%M:%SZ"),
    ))
    if status is not RequestStatus.OPEN:
        ctx.store.decide(request_id, status, None, False)
    return request_id


def documents(ctx: Context, state: DocumentState | None = None) -> list[Document]:
    return ctx.store.list_documents(None if state is None else [state])


def wait_state(ctx: Context, state: DocumentState, count: int = 1, timeout: float = 60.0) -> list[Document]:
    found = wait_for(lambda: (d := documents(ctx, state)) and len(d) >= count and d,
                     timeout, f"{count} document(s) {state}")
    assert isinstance(found, list)
    return found


def write_file(path: Path, data: bytes) -> Path:
    """Write as a PMS would: the watcher sees close-write."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as handle:
        handle.write(data)
    return path


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
