"""One inbox for all sources: store first, verify once, de-duplicate; decisions with
their rules, the export subfolder, and reports to the platform queued until it is
reachable; the .eml folder source (watchdog) and the platform inbox source."""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from practice_client.core.errors import StateError
from practice_client.core.models import Patient, RequestStatus, Verdict
from practice_client.intake.decisions import accept, decline, flush_decisions
from practice_client.intake.dkim_check import DnsFunc, dns_resolver
from practice_client.intake.inbox import Inbox
from practice_client.intake.sources.folder import FolderSource
from practice_client.intake.sources.platform import CURSOR_KEY
from practice_client.service.sources import platform_source
from practice_client.testbed.platform import TestbedPlatform
from tests.support.platform import fast_client, start_platform

from .conftest import World


def inbox_of(world: World, **kwargs) -> Inbox:
    kwargs.setdefault("dnsfunc", world.dnsfunc)
    return Inbox(world.ctx, clock=lambda: world.now, **kwargs)


def audit_events(world: World) -> list[dict]:
    return [json.loads(line) for line in world.ctx.home.audit.read_text().splitlines()]


def wait_until(condition, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        threading.Event().wait(0.05)


@pytest.fixture(scope="module")
def platform() -> Iterator[TestbedPlatform]:
    with start_platform() as running:
        yield running


# -- the inbox ----------------------------------------------------------------------------


def test_same_message_twice_is_one_request(world: World) -> None:
    inbox = inbox_of(world)
    raw = world.message()
    assert inbox.receive(raw, "folder") == 1
    assert inbox.receive(raw, "imap") == 0
    assert len(world.ctx.store.list_requests()) == 1


def test_same_request_via_two_sources_is_a_duplicate_not_a_replay(world: World) -> None:
    inbox = inbox_of(world)
    raw = world.message()
    relayed = b"Received: from mx.example.org by imap.example.org; Mon, 30 Nov 2026 08:00:00 +0100\r\n" + raw
    assert inbox.receive(raw, "platform") == 1
    assert inbox.receive(relayed, "imap") == 0
    records = world.ctx.store.list_requests()
    assert len(records) == 1 and records[0].verdict is Verdict.VERIFIED
    assert world.ctx.store.unprocessed_messages() == []
    assert "message.duplicate" in [e["event"] for e in audit_events(world)]


def test_replay_with_a_new_message_is_recorded_as_rejected(world: World) -> None:
    inbox = inbox_of(world)
    request = world.request()
    assert inbox.receive(world.message(request), "imap") == 1
    # an attacker re-sends the signed request with other documents: consent and replay fail
    altered = request.replace(b'"Befund"', b'"Bildgebung"')
    assert inbox.receive(world.message(altered, signer=world.parties.max.patient), "imap") == 1
    records = world.ctx.store.list_requests()
    assert sorted(r.status for r in records) == [RequestStatus.OPEN, RequestStatus.REJECTED]
    rejected = next(r for r in records if r.status is RequestStatus.REJECTED)
    assert {c.name for c in rejected.checks if c.status == "fail"} >= {"replay", "consent_signature"}
    # the actionable record is still the first one
    assert world.ctx.store.get_request(records[0].request_id).status is RequestStatus.OPEN


def test_a_forged_copy_first_does_not_block_the_genuine_request(world: World) -> None:
    inbox = inbox_of(world)
    request = world.request()
    assert inbox.receive(world.message(request, key=world.keys.foreign), "imap") == 1  # someone saw it first
    assert inbox.receive(world.message(request), "platform") == 1
    records = world.ctx.store.list_requests()
    assert sorted(r.status for r in records) == [RequestStatus.OPEN, RequestStatus.REJECTED]
    genuine = world.ctx.store.get_request(records[0].request_id)
    assert genuine.status is RequestStatus.OPEN and genuine.verdict is Verdict.VERIFIED


def test_malformed_message_is_kept_as_rejected(world: World) -> None:
    inbox = inbox_of(world)
    assert inbox.receive(b"From: someone@example.org\r\n\r\nhello\r\n", "folder") == 1
    (record,) = world.ctx.store.list_requests()
    assert record.status is RequestStatus.REJECTED and record.request_id.startswith("invalid-")
    assert any(c.name == "format" and c.status == "fail" for c in record.checks)


def test_dns_outage_leaves_the_message_pending_until_dns_answers(world: World) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:
        silent.bind(("127.0.0.1", 0))
        dead = dns_resolver(f"127.0.0.1:{silent.getsockname()[1]}", timeout=0.3)
        assert inbox_of(world, dnsfunc=dead).receive(world.message(), "imap") == 0
    assert world.ctx.store.list_requests() == []
    assert len(world.ctx.store.unprocessed_messages()) == 1
    assert inbox_of(world).process_pending() == 1
    assert world.ctx.store.list_requests()[0].verdict is Verdict.VERIFIED


def test_a_message_whose_dkim_key_stays_out_of_reach_for_a_day_is_rejected_with_the_reason(
        world: World) -> None:
    def inbox_at(hours: float, dnsfunc: DnsFunc) -> Inbox:
        return Inbox(world.ctx, dnsfunc=dnsfunc, clock=lambda: datetime.now(UTC) + timedelta(hours=hours))

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:
        silent.bind(("127.0.0.1", 0))
        dead = dns_resolver(f"127.0.0.1:{silent.getsockname()[1]}", timeout=0.3)
        assert inbox_at(0, dead).receive(world.message(), "imap") == 0
        assert inbox_at(23, dead).process_pending() == 0  # still waiting for DNS
        assert world.ctx.store.list_requests() == []
        assert inbox_at(25, dead).process_pending() == 1
    (record,) = world.ctx.store.list_requests()
    assert record.status is RequestStatus.REJECTED and record.verdict is Verdict.REJECTED
    (dkim,) = [c for c in record.checks if c.name == "dkim"]
    assert "did not answer for 24 hours" in dkim.detail_en and "24 Stunden" in dkim.detail_de
    assert world.ctx.store.unprocessed_messages() == []


# -- decisions ---------------------------------------------------------------------------


def receive(world: World, raw: bytes | None = None) -> str:
    inbox_of(world).receive(raw or world.message(), "test")
    return world.ctx.store.list_requests()[0].request_id


def test_accept_verified_creates_export_subfolder(world: World) -> None:
    request_id = receive(world)
    record = accept(world.ctx, request_id, now=world.now)
    assert record.status is RequestStatus.ACCEPTED and not record.override
    assert (Path(world.ctx.config.export_dir) / request_id).is_dir()
    with pytest.raises(StateError, match="already"):
        accept(world.ctx, request_id, now=world.now)


def test_needs_review_requires_override_and_reason_audited(world: World) -> None:
    erika = world.parties.erika
    world.ctx.store.upsert_patients([Patient(erika.number, erika.patient.name, erika.patient.birth_date, None)],
                                    "test")
    request_id = receive(world)
    assert world.ctx.store.get_request(request_id).verdict is Verdict.NEEDS_REVIEW
    with pytest.raises(StateError, match="override"):
        accept(world.ctx, request_id, now=world.now)
    with pytest.raises(StateError, match="override"):
        accept(world.ctx, request_id, override=True, now=world.now)
    with pytest.raises(StateError, match="override"):
        accept(world.ctx, request_id, override=True, reason="   ", now=world.now)
    assert not (Path(world.ctx.config.export_dir) / request_id).exists()
    record = accept(world.ctx, request_id, override=True, reason="Telefonnummer telefonisch bestätigt",
                    now=world.now)
    assert record.override and record.decision_reason == "Telefonnummer telefonisch bestätigt"
    entry = [e for e in audit_events(world) if e["event"] == "request.accepted"][-1]
    assert entry["details"]["override"] is True and entry["details"]["has_reason"] is True


def test_rejected_request_can_never_be_accepted(world: World) -> None:
    request_id = receive(world, world.message(world.request(practice_id="praxis-9999")))
    with pytest.raises(StateError):
        accept(world.ctx, request_id, override=True, reason="trust me", now=world.now)
    with pytest.raises(StateError):
        decline(world.ctx, request_id, reason="no")
    assert world.ctx.store.get_request(request_id).status is RequestStatus.REJECTED


def test_expired_request_is_not_accepted(world: World) -> None:
    request_id = receive(world)
    with pytest.raises(StateError, match="expired"):
        accept(world.ctx, request_id, now=world.now + timedelta(days=30))


def test_decline_requires_a_reason(world: World) -> None:
    request_id = receive(world)
    with pytest.raises(StateError, match="reason"):
        decline(world.ctx, request_id, reason=" ")
    assert decline(world.ctx, request_id, reason="Unterlagen liegen nicht vor").status is RequestStatus.DECLINED


def test_decisions_are_queued_until_the_platform_is_reachable(
        world: World, platform: TestbedPlatform, practice_key: str) -> None:
    first = receive(world)
    decline(world.ctx, first, reason="Unterlagen liegen nicht vor")
    inbox_of(world).receive(world.message(), "test")
    second = next(r.request_id for r in world.ctx.store.list_requests() if r.request_id != first)
    accept(world.ctx, second, now=world.now)
    platform.faults.fail_next("decision", count=10, status=503)
    assert flush_decisions(world.ctx, fast_client(platform)) == 0
    assert len(world.ctx.store.pending_decisions()) == 2
    platform.faults.fail_next("decision", count=1, status=503)  # reset: one more failure, then fine
    assert flush_decisions(world.ctx, fast_client(platform)) == 2
    assert world.ctx.store.pending_decisions() == []
    recorded = json.loads((platform.data_dir / "decisions" / f"{first}.json").read_text())
    assert recorded["decision"] == "declined"
    content, _ = world.parties.erika.patient.read_decision(recorded["reason"], practice_key)
    assert content["reason"] == "Unterlagen liegen nicht vor"
    accepted = json.loads((platform.data_dir / "decisions" / f"{second}.json").read_text())
    assert accepted["decision"] == "accepted" and accepted["reason"] == ""


def test_a_decision_the_platform_refuses_for_good_does_not_block_the_queue(
        world: World, platform: TestbedPlatform, practice_key: str) -> None:
    first = receive(world)
    accept(world.ctx, first, now=world.now)
    inbox_of(world).receive(world.message(), "test")
    second = next(r.request_id for r in world.ctx.store.list_requests() if r.request_id != first)
    decline(world.ctx, second, reason="Unterlagen liegen nicht vor")
    # the platform already holds a different decision for the first request (409)
    (platform.data_dir / "decisions").mkdir(exist_ok=True)
    (platform.data_dir / "decisions" / f"{first}.json").write_text(
        json.dumps({"request_id": first, "decision": "declined", "reason": "anderswo"}))
    assert flush_decisions(world.ctx, fast_client(platform)) == 1
    assert world.ctx.store.pending_decisions() == []
    refused = world.ctx.store.get_request(first)
    assert refused is not None and refused.decision_refused and not refused.decision_sent
    delivered = world.ctx.store.get_request(second)
    assert delivered is not None and delivered.decision_sent and not delivered.decision_refused
    assert json.loads((platform.data_dir / "decisions" / f"{second}.json").read_text())["decision"] == "declined"
    entries = [json.loads(line) for line in world.ctx.home.audit.read_text().splitlines()]
    (entry,) = [e for e in entries if e["event"] == "request.decision_refused"]
    assert entry["details"]["request_id"] == first and "409" in entry["details"]["reason"]


# -- sources ------------------------------------------------------------------------------


def test_platform_inbox_source_keeps_a_cursor(world: World, platform: TestbedPlatform) -> None:
    for name in os.listdir(platform.data_dir / "inbox"):
        os.unlink(platform.data_dir / "inbox" / name)
    for i in range(3):
        (platform.data_dir / "inbox" / f"msg-{i:03d}.eml").write_bytes(world.message())
    source = platform_source(world.ctx, inbox_of(world), lambda: fast_client(platform))
    assert source.poll_once() == 3
    assert world.ctx.store.get_meta(CURSOR_KEY)
    assert source.poll_once() == 0
    (platform.data_dir / "inbox" / "msg-100.eml").write_bytes(world.message())
    assert source.poll_once() == 1
    assert {r.source for r in world.ctx.store.list_requests()} == {"platform"}


def test_folder_source_moves_processed_files_and_skips_symlinks(world: World, work_dir: Path) -> None:
    folder = work_dir / "eml"
    folder.mkdir()
    (folder / "anfrage.eml").write_bytes(world.message())
    outside = work_dir / "secret.eml"
    outside.write_bytes(world.message())
    (folder / "link.eml").symlink_to(outside)
    inbox = inbox_of(world)
    source = FolderSource(folder, deliver=inbox.receive, settle=inbox.process_pending)
    assert source.poll_once() == 1
    assert (folder / "processed" / "anfrage.eml").is_file()
    assert (folder / "link.eml").is_symlink() and outside.is_file()
    assert len(world.ctx.store.list_requests()) == 1


def test_try_flush_gives_up_quickly_and_keeps_the_queue(
        world: World, platform: TestbedPlatform, practice_key: str) -> None:
    from practice_client.core.secrets import PLATFORM_TOKEN
    from practice_client.intake.decisions import try_flush

    request_id = receive(world)
    decline(world.ctx, request_id, reason="Unterlagen liegen nicht vor")
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        dead_port = closed.getsockname()[1]
    world.ctx.secrets.set(PLATFORM_TOKEN, platform.token)
    world.ctx.update_config(server_url=f"https://127.0.0.1:{dead_port}", ca_file=str(platform.ca_file))
    started = time.monotonic()
    assert "later" in try_flush(world.ctx)
    assert time.monotonic() - started < 10
    assert len(world.ctx.store.pending_decisions()) == 1
    world.ctx.update_config(server_url=platform.url)
    assert "reported" in try_flush(world.ctx)
    assert world.ctx.store.pending_decisions() == []
    assert (platform.data_dir / "decisions" / f"{request_id}.json").is_file()
