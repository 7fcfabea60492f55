"""A hostile mailbox must not stall intake: the work a message can cause is bounded before
any parsing or DNS, and a message that exhausts the bound is recorded as rejected once -
not checked again on every poll or after every restart. Real DKIM signatures, real DNS on
loopback (the server counts the client's lookups), the real testbed platform inbox."""

from __future__ import annotations

import base64
import os
import time
from collections.abc import Iterator

import pytest

from practice_client.core.models import CheckStatus, RequestStatus, Verdict
from practice_client.core.store import MAX_MESSAGE_BYTES
from practice_client.intake.dkim_check import MAX_VERIFICATIONS
from practice_client.intake.inbox import Inbox
from practice_client.service.sources import platform_source
from practice_client.testbed.platform import TestbedPlatform
from tests.support.platform import fast_client, start_platform

from .conftest import PLATFORM, World, check_of


@pytest.fixture(scope="module")
def platform() -> Iterator[TestbedPlatform]:
    with start_platform() as running:
        yield running


def bogus_signature(domain: str = PLATFORM) -> bytes:
    """A syntactically valid DKIM-Signature by ``domain`` under a random selector: every
    one of them would cost a DNS lookup and a body hash if it were tried."""
    selector = "x" + os.urandom(6).hex()
    bh = base64.b64encode(os.urandom(32)).decode()
    b = base64.b64encode(os.urandom(256)).decode()
    return (f"DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d={domain}; s={selector}; "
            f"t={int(time.time())}; h=from:subject:date:message-id; bh={bh}; b={b}\r\n").encode()


def with_signatures(raw: bytes, count: int, domain: str = PLATFORM) -> bytes:
    return b"".join(bogus_signature(domain) for _ in range(count)) + raw


def lookups(world: World, since: int) -> list[str]:
    return [q for q in world.dns.queries()[since:] if q.endswith(f"._domainkey.{PLATFORM}")]


def test_a_thousand_platform_signatures_cost_no_dns_lookup_and_are_rejected_once(world: World) -> None:
    raw = with_signatures(world.message(), 1000)
    assert len(raw) < MAX_MESSAGE_BYTES
    start = len(world.dns.queries())
    result = world.verify(raw)
    dkim = check_of(result, "dkim")
    assert result.verdict is Verdict.REJECTED and not result.temporary
    assert dkim.status is CheckStatus.FAIL and "1001 signatures" in dkim.detail_en
    assert lookups(world, start) == []

    inbox = Inbox(world.ctx, dnsfunc=world.dnsfunc, clock=lambda: world.now)
    assert inbox.receive(raw, "imap") == 1
    (record,) = world.ctx.store.list_requests()
    assert record.status is RequestStatus.REJECTED
    assert inbox.process_pending() == 0
    # a restart: a new inbox over the same store finds nothing left to check
    assert Inbox(world.ctx, dnsfunc=world.dnsfunc, clock=lambda: world.now).process_pending() == 0
    assert world.ctx.store.unprocessed_messages() == []
    assert lookups(world, start) == []


def test_at_most_a_few_platform_signatures_are_verified(world: World) -> None:
    start = len(world.dns.queries())
    result = world.verify(with_signatures(world.message(), 8))  # the genuine one comes ninth
    dkim = check_of(result, "dkim")
    assert result.verdict is Verdict.REJECTED and not result.temporary
    assert f"more than {MAX_VERIFICATIONS} signatures" in dkim.detail_en.lower()
    assert len(lookups(world, start)) == MAX_VERIFICATIONS

    start = len(world.dns.queries())
    ok = world.verify(with_signatures(world.message(), MAX_VERIFICATIONS - 1))  # genuine one last in the bound
    assert ok.verdict is Verdict.VERIFIED, ok.checks
    assert len(lookups(world, start)) == MAX_VERIFICATIONS


def test_foreign_signatures_are_refused_on_their_tags_without_a_lookup(world: World) -> None:
    start = len(world.dns.queries())
    result = world.verify(with_signatures(world.message(), 9, domain="attacker.test"))
    assert result.verdict is Verdict.VERIFIED, result.checks
    assert len(lookups(world, start)) == 1
    assert not [q for q in world.dns.queries()[start:] if q.endswith("attacker.test")]


def test_an_oversized_message_from_the_platform_is_recorded_once_and_never_kept(
        world: World, platform: TestbedPlatform) -> None:
    for name in os.listdir(platform.data_dir / "inbox"):
        os.unlink(platform.data_dir / "inbox" / name)
    big = world.message() + b"A" * (MAX_MESSAGE_BYTES + 1)
    (platform.data_dir / "inbox" / "big.eml").write_bytes(big)
    source = platform_source(world.ctx, Inbox(world.ctx, dnsfunc=world.dnsfunc, clock=lambda: world.now),
                             lambda: fast_client(platform))
    start = len(world.dns.queries())
    assert source.poll_once() == 1
    (record,) = world.ctx.store.list_requests()
    assert record.status is RequestStatus.REJECTED
    assert "too large" in check_of(record, "format").detail_en
    assert world.dns.queries()[start:] == []
    # the same bytes again (another source, a re-fetch) are known: nothing new, nothing checked
    assert Inbox(world.ctx, dnsfunc=world.dnsfunc).receive(big, "imap") == 0
    assert len(world.ctx.store.list_requests()) == 1
    world.ctx.store.close()
    kept = sum(p.stat().st_size for p in world.ctx.home.root.glob("state.sqlite3*"))
    assert kept < MAX_MESSAGE_BYTES // 4  # only the digest and the verdict were stored
    del world.ctx.__dict__["store"]
    with pytest.raises(ValueError, match="over the limit"):
        world.ctx.store.store_message(big, "imap")
