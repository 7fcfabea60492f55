"""A decline's reason is for the patient, not for the platform: it travels as an OpenPGP
message signed by the practice key and encrypted to the patient's pinned key, which the
patient's app (the testbed patient) decrypts and checks; the platform stores only
ciphertext. A patient whose key is no longer pinned gets the decline without the reason,
and the audit log says the reason stayed in the practice. Real gpg, the real testbed
platform over HTTPS, real DKIM-signed request messages."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from practice_client.intake.decisions import decline, flush_decisions
from practice_client.intake.inbox import Inbox
from practice_client.testbed.platform import TestbedPlatform
from tests.support.platform import fast_client, start_platform

from .conftest import World

REASON = "Die Befunde liegen bei Dr. Mustermann, nicht bei uns"


@pytest.fixture(scope="module")
def platform() -> Iterator[TestbedPlatform]:
    with start_platform() as running:
        yield running


def declined(world: World, platform: TestbedPlatform) -> tuple[str, dict[str, str]]:
    Inbox(world.ctx, dnsfunc=world.dnsfunc, clock=lambda: world.now).receive(world.message(), "test")
    (record,) = world.ctx.store.list_requests()
    decline(world.ctx, record.request_id, reason=REASON)
    assert flush_decisions(world.ctx, fast_client(platform)) == 1
    stored = (platform.data_dir / "decisions" / f"{record.request_id}.json").read_text("utf-8")
    assert REASON not in stored and "Mustermann" not in stored  # the platform holds no reason it can read
    return record.request_id, json.loads(stored)


def test_the_reason_reaches_the_patient_encrypted_and_signed(
        world: World, platform: TestbedPlatform, practice_key: str) -> None:
    request_id, stored = declined(world, platform)
    assert stored["decision"] == "declined" and stored["reason"].startswith("-----BEGIN PGP MESSAGE-----")
    content, signed = world.parties.erika.patient.read_decision(stored["reason"], practice_key)
    assert signed  # by the practice key
    assert content == {"version": 1, "request_id": request_id, "decision": "declined", "reason": REASON,
                       "decided_at": world.ctx.store.get_request(request_id).decided_at}
    with pytest.raises(Exception):  # noqa: B017 - another patient (or the platform) cannot read it
        world.parties.max.patient.read_decision(stored["reason"], practice_key)
    (sent,) = [e for e in world.ctx.store.audit.entries() if e["event"] == "request.decision_sent"]
    assert sent["details"]["reason"] == "encrypted for the patient"


def test_without_a_pinned_key_the_reason_stays_in_the_practice(
        world: World, platform: TestbedPlatform, practice_key: str) -> None:
    Inbox(world.ctx, dnsfunc=world.dnsfunc, clock=lambda: world.now).receive(world.message(), "test")
    (record,) = world.ctx.store.list_requests()
    decline(world.ctx, record.request_id, reason=REASON)
    world.ctx.store.unpin(world.parties.erika.patient.fingerprint)  # staff removed the pin meanwhile
    assert flush_decisions(world.ctx, fast_client(platform)) == 1
    stored = json.loads((platform.data_dir / "decisions" / f"{record.request_id}.json").read_text("utf-8"))
    assert stored["reason"] == ""
    (sent,) = [e for e in world.ctx.store.audit.entries() if e["event"] == "request.decision_sent"]
    assert sent["details"]["reason"] == "kept in the practice"
    assert world.ctx.store.get_request(record.request_id).decision_reason == REASON
