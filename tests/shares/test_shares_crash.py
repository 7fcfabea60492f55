"""kill -9 of the agent during a share's download and during its hand-over to the PMS
never loses the share and never writes it (or its GDT record) twice. The agent runs as a
real subprocess; the test watches the database read-only and kills it (SIGKILL) at the
moment wanted, then a restarted agent must finish: exactly one file and one GDT record in
the import folder, one ``share.handed_over`` audit entry, the download resumed."""

from __future__ import annotations

import signal
import sqlite3
import time
from pathlib import Path

import pytest

from practice_client.context import Context
from practice_client.testbed.clamd import RunningClamd
from practice_client.testbed.shares import ShareStore
from tests.support.delivery import start_agent, stop_agent
from tests.support.shares import scanning_practice
from tests.support.waiting import wait_for
from tests.support.worlds import World

pytestmark = pytest.mark.slow
ATTEMPTS = 8


def share_states(database: Path) -> dict[str, str]:
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=5) as db:
        return dict(db.execute("SELECT share_id, state FROM shares").fetchall())


def handed_over_entries(ctx: Context, share_id: str) -> int:
    return sum(1 for e in ctx.store.audit.entries()
               if e["event"] == "share.handed_over" and e["details"]["share_id"] == share_id)


@pytest.fixture
def practice(world: World, client: Context, clamd: RunningClamd, tmp_path: Path) -> Context:
    return scanning_practice(world, client, clamd, tmp_path, poll_seconds=3600.0)


def publish(world: World, data: bytes, name: str) -> str:
    shared = world.patients["1001"].share(data, name, world.practice_key, "praxis-test", document_type="Befund")
    return ShareStore(world.platform.data_dir).publish(shared.document, shared.manifest, shared.share_id)


def finish_after_restart(world: World, ctx: Context, share_id: str) -> None:
    world.platform.faults.clear()
    restarted = start_agent(ctx)
    try:
        wait_for(lambda: share_states(ctx.home.database).get(share_id) == "handed_over", timeout=120,
                 what="the hand-over after the restart")
    finally:
        stop_agent(restarted, ctx)


def test_sigkill_during_the_download_resumes_and_delivers_once(world: World, practice: Context) -> None:
    data = ("Arztbrief\n" * 1_200_000).encode()  # 12 MB
    # armed for both downloads of the share (its manifest and the document, in whichever order the
    # job fetches them): the document's always stalls after 2 MiB, so the kill lands mid-download
    world.platform.faults.stall_next_downloads(after_bytes=2 * 1024 * 1024, seconds=30, count=2)
    share_id = publish(world, data, "arztbrief.txt")
    partial = practice.home.root / "shares" / share_id / "share.pgp.part"
    ranged_before = world.platform.stats.calls("share.ranged")
    agent = start_agent(practice)
    try:
        wait_for(lambda: partial.exists() and partial.stat().st_size >= 2 * 1024 * 1024, timeout=60,
                 what="half a download")
        assert share_states(practice.home.database)[share_id] == "received"
    finally:
        agent.kill()
        agent.wait(timeout=30)
    finish_after_restart(world, practice, share_id)
    assert world.platform.stats.calls("share.ranged") > ranged_before  # resumed, not started over
    files = sorted(p.name for p in Path(practice.config.pms_import_dir).iterdir())
    assert len(files) == 2 and files[0].endswith(".gdt") and files[1].endswith(".txt")
    assert (Path(practice.config.pms_import_dir) / files[1]).read_bytes() == data
    assert handed_over_entries(practice, share_id) == 1
    assert practice.store.verify_audit().ok


def test_sigkill_during_the_hand_over_writes_it_exactly_once(world: World, practice: Context) -> None:
    folder = Path(practice.config.pms_import_dir)
    killed_in = ""
    for attempt in range(ATTEMPTS):
        data = (f"Befund {attempt}\n" * 1_000_000).encode()  # the copy into the folder takes a moment
        share_id = publish(world, data, f"befund{attempt}.txt")
        agent = start_agent(practice)
        deadline = time.monotonic() + 120
        killed_in = ""
        while time.monotonic() < deadline and not killed_in:
            current = share_states(practice.home.database).get(share_id, "")
            if current in ("handing_over", "handed_over"):
                agent.send_signal(signal.SIGSTOP)
                killed_in = share_states(practice.home.database)[share_id]
        agent.kill()
        agent.wait(timeout=30)
        assert killed_in, "the share never reached the hand-over"
        finish_after_restart(world, practice, share_id)
        mine = sorted(p.name for p in folder.iterdir() if share_id[:8] in p.name)
        assert len(mine) == 2, mine  # one file, one GDT record - never twice, never none
        assert not [p for p in folder.iterdir() if p.name.startswith(".")]  # no temporary file left
        assert (folder / next(n for n in mine if n.endswith(".txt"))).read_bytes() == data
        assert handed_over_entries(practice, share_id) == 1
        if killed_in == "handing_over":
            break
    assert killed_in == "handing_over", f"the kill never landed in the hand-over (last: {killed_in})"
    assert practice.store.verify_audit().ok
