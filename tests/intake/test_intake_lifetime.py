"""A request's lifetime is capped by the practice (``max_request_days``, default 90 days
from its creation, lockable by the admin): a genuine request that claims to be valid
until 2099 must not stay an automatic delivery target for ever."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta

import pytest

from practice_client.core.config import load_config
from practice_client.core.errors import StateError
from practice_client.core.migrations import MIGRATIONS
from practice_client.core.models import CheckStatus, Verdict
from practice_client.core.policy import Policy
from practice_client.delivery import matching
from practice_client.intake.decisions import accept
from practice_client.intake.inbox import Inbox

from .conftest import World, check_of

FOR_EVER = timedelta(days=365 * 73)  # expires_at in 2099


def received(world: World, raw: bytes) -> str:
    inbox = Inbox(world.ctx, dnsfunc=world.dnsfunc, clock=lambda: world.now)
    assert inbox.receive(raw, "test") == 1
    (record,) = world.ctx.store.list_requests()
    return record.request_id


def test_a_request_valid_until_2099_is_open_for_90_days_only(world: World) -> None:
    raw = world.message(world.request(valid_for=FOR_EVER))
    result = world.verify(raw)
    assert result.verdict is Verdict.VERIFIED
    freshness = check_of(result, "freshness")
    assert freshness.status is CheckStatus.PASS
    assert "at most 90 days" in freshness.detail_en and "höchstens 90 Tage" in freshness.detail_de
    created = world.now
    assert datetime.fromisoformat(result.expires_at.replace("Z", "+00:00")) == created + timedelta(days=90)

    request_id = received(world, raw)
    record = accept(world.ctx, request_id, now=world.now)
    assert matching.is_valid(record, created + timedelta(days=89))
    # the attack: three months later a file in the request's folder would still go out
    assert not matching.is_valid(record, created + timedelta(days=91))
    late = world.verify(raw, now=created + timedelta(days=91))
    assert check_of(late, "freshness").status is CheckStatus.FAIL
    assert "at most 90 days" in check_of(late, "freshness").detail_en


def test_the_practice_can_shorten_the_cap_and_accepting_late_is_refused(world: World) -> None:
    world.ctx.update_config(max_request_days=30)
    raw = world.message(world.request(valid_for=FOR_EVER))
    assert "at most 30 days" in check_of(world.verify(raw), "freshness").detail_en
    request_id = received(world, raw)
    with pytest.raises(StateError, match="expired"):
        accept(world.ctx, request_id, now=world.now + timedelta(days=31))


def test_a_request_shorter_than_the_cap_keeps_its_own_expiry(world: World) -> None:
    result = world.verify(world.message(world.request(valid_for=timedelta(days=14))))
    assert check_of(result, "freshness").detail_en == "The request is current."
    assert result.expires_at == result.request["expires_at"]


def test_the_admin_policy_lock_wins_over_the_practice_setting(world: World) -> None:
    world.ctx.update_config(max_request_days=365)
    policy = Policy(values={"max_request_days": 14}, locked=frozenset({"max_request_days"}), source="test")
    assert load_config(world.ctx.home.config, policy).max_request_days == 14


def test_requests_recorded_before_the_cap_are_capped_by_the_migration_step(world: World) -> None:
    request_id = received(world, world.message(world.request(valid_for=FOR_EVER)))
    database = world.ctx.home.database
    world.ctx.close()
    db = sqlite3.connect(database, isolation_level=None)  # as an older client recorded it
    db.execute("UPDATE requests SET expires_at='2099-01-01T00:00:00Z', received_at='2026-01-01T00:00:00Z'")
    next(m for m in MIGRATIONS if m.what == "request lifetimes capped").run(db, None)
    db.close()
    del world.ctx.__dict__["store"]
    assert world.ctx.store.get_request(request_id).expires_at == "2026-04-01T00:00:00Z"
