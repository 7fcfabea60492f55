"""Attacks on what binds a share to itself: a platform that swaps shares or replays one.

Every share here is made by the genuine patient's app (Erika, pinned) and is validly signed;
only its manifest does not describe *this* document of *this* share for *this* practice: it
names another share's id, another practice, another document's SHA-256 or size, or the
platform serves another share's bytes under a new id. Each must be quarantined as
``manifest_mismatch`` with the field that does not fit - visible to staff (the Eingang's
view and an alert), audited, never in the PMS import folder, no receipt sent. Real parts:
the testbed platform over HTTPS, the patient's app (OpenPGP.js or Sequoia), the practice's
GnuPG, a real clamd.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from practice_client.commands.shares import share_json
from practice_client.context import Context
from practice_client.shares.events import ShareEvent, ShareQuarantined
from practice_client.testbed.clamd import RunningClamd
from practice_client.testbed.shares import ShareStore
from tests.support.shares import prepared_share, publish, run_shares, scanning_practice, share, share_state
from tests.support.worlds import World

pytestmark = pytest.mark.slow


@pytest.fixture
def practice(world: World, client: Context, clamd: RunningClamd, tmp_path: Path) -> Iterator[Context]:
    yield scanning_practice(world, client, clamd, tmp_path)


def imported(ctx: Context) -> list[str]:
    return sorted(p.name for p in Path(ctx.config.pms_import_dir).iterdir())


def assert_mismatch(world: World, ctx: Context, events: list[ShareEvent], share_id: str, field: str) -> None:
    """Quarantined for ``field``, shown to staff, alerted, audited; nothing went to the PMS
    and the platform got no receipt."""
    found = share_state(ctx, share_id)
    assert (found.state, found.reason, found.detail) == ("quarantined", "manifest_mismatch", field)
    assert found.patient_number is None  # not taken as any patient's document
    shown = share_json(ctx, found)
    assert shown["stage"] == "signature" and shown["detail"] == field
    assert shown["reason_text"]["de"] and shown["reason_text"]["en"]
    assert share_id in [e.share_id for e in events if isinstance(e, ShareQuarantined)]
    entry = next(e for e in ctx.store.audit.entries()
                 if e["event"] == "share.quarantined" and e["details"]["share_id"] == share_id)
    assert (entry["details"]["reason"], entry["details"]["input"]) == ("manifest_mismatch", "refused_signature")
    assert not [name for name in imported(ctx) if share_id[:8] in name]
    assert ShareStore(world.platform.data_dir).receipt_of(share_id) is None
    assert ctx.store.verify_audit().ok


def test_a_swapped_share_is_quarantined(world: World, practice: Context) -> None:
    erika = world.patients["1001"]
    first = prepared_share(world, erika, b"Befund A\n", "a.txt")
    second = prepared_share(world, erika, b"Befund B, anders\n", "b.txt")
    third = prepared_share(world, erika, b"Befund C\n", "c.txt")
    publish(world, first, second.share_id)  # share A's manifest and document listed as share B
    publish(world, third, document=first)  # share C's manifest with share A's document
    publish(world, first)  # and A itself, honestly
    events = run_shares(world, practice)
    assert_mismatch(world, practice, events, second.share_id, "share_id")
    assert_mismatch(world, practice, events, third.share_id, "sha256")
    assert share_state(practice, first.share_id).state == "handed_over"
    assert [name for name in imported(practice) if first.share_id[:8] in name] != []


@pytest.mark.parametrize(("changes", "field"), [
    ({"practice_id": "praxis-nebenan"}, "practice_id"),
    ({"sha256": hashlib.sha256(b"ein anderes Dokument\n").hexdigest()}, "sha256"),
    ({"size": len(b"Impfpass\n") + 1}, "size"),
], ids=["another-practice", "another-digest", "another-size"])
def test_a_manifest_describing_something_else_is_quarantined(
        world: World, practice: Context, changes: dict[str, object], field: str) -> None:
    share_id = share(world, world.patients["1001"], b"Impfpass\n", "impfpass.txt", manifest_changes=changes)
    events = run_shares(world, practice)
    assert_mismatch(world, practice, events, share_id, field)
    assert imported(practice) == []


def test_a_replayed_share_is_quarantined(world: World, practice: Context) -> None:
    shared = prepared_share(world, world.patients["1001"], b"Arztbrief\n", "arztbrief.txt")
    publish(world, shared)
    run_shares(world, practice)
    assert share_state(practice, shared.share_id).state == "handed_over"
    handed = imported(practice)
    assert len(handed) == 2
    replayed = publish(world, shared, "replay-" + shared.share_id[:30])  # the same bytes under a new id
    publish(world, shared)  # and listed again under its own id
    events = run_shares(world, practice)
    assert_mismatch(world, practice, events, replayed, "share_id")
    assert share_state(practice, shared.share_id).state == "handed_over"  # one row, handed over once
    assert imported(practice) == handed


def test_without_its_own_practice_id_the_practice_takes_no_share(world: World, practice: Context) -> None:
    """A practice whose id is not configured cannot tell a share meant for it from one meant
    for another practice (as intake refuses requests then): none is taken."""
    practice.update_config(practice_id="")
    share_id = share(world, world.patients["1001"], b"Befund\n", "befund.txt")
    events = run_shares(world, practice)
    assert_mismatch(world, practice, events, share_id, "practice_id")
    assert imported(practice) == []
