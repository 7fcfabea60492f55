"""The audit log anchored outside the machine: signed checkpoints go to the platform with
decisions and deliveries, and ``audit verify --against-platform`` finds a home folder
rolled back to an older copy - which every local check must accept, since log, head
and database agree with each other. A checkpoint the practice key did not sign is
refused, and the platform refuses a checkpoint older than the one it holds (the agent
tells staff). Real gpg, real HTTPS to the testbed platform."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from practice_client.context import Context
from practice_client.core.secrets import PLATFORM_TOKEN
from practice_client.crypto.checkpoint import ROLLED_BACK, make_checkpoint, send_checkpoint
from practice_client.crypto.gpg import Gpg
from practice_client.delivery.pipeline import Pipeline
from practice_client.intake.decisions import flush_decisions
from practice_client.testbed.platform import TestbedPlatform
from tests.conftest import kill_agents, short_tmpdir
from tests.support.cli import run_cli as run
from tests.support.waiting import wait_for
from tests.support.worlds import World, accepted_request, pin_patient, write_file


@pytest.fixture
def platform(client: Context) -> Iterator[TestbedPlatform]:
    """A platform of this practice's own (the session's is shared by many homes)."""
    data = short_tmpdir("pca")
    server = TestbedPlatform(data).start()
    client.update_config(server_url=server.url, ca_file=str(server.ca_file))
    # every home copied from the template shares one keyring entry: the session's token comes back
    shared = client.secrets.get(PLATFORM_TOKEN)
    client.secrets.set(PLATFORM_TOKEN, server.token)
    yield server
    if shared is not None:
        client.secrets.set(PLATFORM_TOKEN, shared)
    server.stop()
    shutil.rmtree(data, ignore_errors=True)


def held(platform: TestbedPlatform) -> dict[str, object]:
    """The checkpoint the platform keeps."""
    body = json.loads((platform.data_dir / "practice" / "audit-checkpoint.json").read_text())
    return dict(json.loads(body["checkpoint"]))


def decide_and_report(ctx: Context) -> None:
    """Staff accept a request; the decision goes to the platform - and a checkpoint with it."""
    accepted_request(ctx, None, None)
    assert flush_decisions(ctx) == 1


def copy_home(source: Path, target: Path) -> None:
    shutil.copytree(source, target, ignore=lambda _d, names: [n for n in names if n.startswith("S.")])


def test_a_decision_anchors_the_log_and_the_check_confirms_it(client: Context, platform: TestbedPlatform) -> None:
    decide_and_report(client)
    checkpoint = held(platform)
    head = client.store.audit_head()
    assert checkpoint["practice_id"] == "praxis-test" and checkpoint["seq"] == head.seq
    assert checkpoint["link"] == head.digest
    result = run("audit", "verify", "--against-platform")
    assert result.returncode == 0, result.stderr
    assert f"entry {head.seq} of {head.seq}" in result.stdout


def test_a_rolled_back_home_passes_locally_and_fails_against_the_platform(
    client: Context, platform: TestbedPlatform
) -> None:
    decide_and_report(client)
    older = short_tmpdir("pco")
    try:
        client.store.close()
        copy_home(client.home.root, older / "home")  # the copy someone keeps to cover a later delivery
        del client.__dict__["store"]
        decide_and_report(client)
        client.close()
        kill_agents(client.home.root)
        shutil.rmtree(client.home.root)
        copy_home(older / "home", client.home.root)  # ... and puts back
        assert run("audit", "verify", "--full").returncode == 0, "log, head and database agree"
        result = run("audit", "verify", "--against-platform")
        assert result.returncode == 1 and "rolled back" in result.stderr and result.stderr.count("\n") == 1
        # the next checkpoint of the rolled-back log is refused, and staff are told
        told: list[str] = []
        with Context().platform() as api:
            assert send_checkpoint(Context(), api, told.append) is None
        assert told == [ROLLED_BACK]
    finally:
        kill_agents(older)
        shutil.rmtree(older, ignore_errors=True)


def test_a_checkpoint_not_signed_by_the_practice_key_is_refused(
    client: Context, platform: TestbedPlatform, work_dir: Path
) -> None:
    decide_and_report(client)
    impostor = Gpg(work_dir / "impostor")
    fpr = impostor.generate_key("Plattform", "ops@platform.test", "x" * 12, "ed25519")
    forged = json.dumps({"version": 1, "practice_id": "praxis-test", "seq": 10**6, "link": "0" * 64,
                         "created_at": "2026-12-01T00:00:00Z"}, sort_keys=True).encode()
    signature = impostor.sign(forged, fpr, "x" * 12)
    (platform.data_dir / "practice" / "audit-checkpoint.json").write_text(
        json.dumps({"checkpoint": forged.decode(), "signature": signature.decode()}))
    result = run("audit", "verify", "--against-platform")
    assert result.returncode != 0 and "not signed by the practice key" in result.stderr


def test_the_platform_keeps_the_newest_checkpoint_only(client: Context, platform: TestbedPlatform) -> None:
    older, older_signature, _seq = make_checkpoint(client)
    client.store.record("key.exported", n=1)
    newer, newer_signature, seq = make_checkpoint(client)
    with client.platform() as api:
        assert api.send_audit_checkpoint(newer, newer_signature)
        assert api.send_audit_checkpoint(newer, newer_signature)  # the same again: fine
        assert not api.send_audit_checkpoint(older, older_signature)
        assert api.audit_checkpoint() == (newer, newer_signature)
    assert held(platform)["seq"] == seq


def test_a_platform_without_checkpoints_is_no_alarm(client: Context, platform: TestbedPlatform) -> None:
    """A platform that does not take checkpoints (yet) answers 404: logged, nobody alarmed."""
    platform.faults.fail_next("audit_checkpoint", 5, status=404)
    told: list[str] = []
    with client.platform() as api:
        assert send_checkpoint(client, api, told.append) is None
    assert told == []


def test_a_delivery_anchors_the_log(client: Context, platform: TestbedPlatform, world: World) -> None:
    patient = pin_patient(client, world, "1001")
    (platform.data_dir / "patients" / f"{patient.fingerprint}.asc").write_text(patient.public_key())
    request_id = accepted_request(client, patient.fingerprint, "1001")
    letter = write_file(Path(client.config.export_dir) / request_id / "Befund.pdf", b"%PDF-1.4 Befund\n" * 50)
    pipeline = Pipeline(client)
    pipeline.start()
    try:
        pipeline.ingest(letter)
        wait_for(lambda: client.store.count_documents(["delivered"]) == 1, 120, "the delivery")
        wait_for(lambda: (platform.data_dir / "practice" / "audit-checkpoint.json").exists()
                 and held(platform)["seq"] >= client.store.audit_head().seq, 60, "the checkpoint after it")
    finally:
        pipeline.stop()
