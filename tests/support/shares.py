"""What the shares tests share: a real clamd (started once per session on a unix socket),
a patient's share prepared and published on the testbed platform (as its app makes it, or
as a dishonest platform swaps and replays it), one pass of the practice's shares job, and a
practice that starts after the shares other tests published. The PDFs with and without active content are
:mod:`tests.support.pdfs`."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from practice_client.context import Context
from practice_client.core.models import Share
from practice_client.shares.events import ShareEvent
from practice_client.shares.job import SharesJob
from practice_client.testbed.clamd import RunningClamd, clamd_binary, start_clamd
from practice_client.testbed.patient import SharedDocument, SimulatedPatient
from practice_client.testbed.shares import ShareStore
from tests.conftest import require, short_tmpdir
from tests.support.platform import fast_client
from tests.support.worlds import World, pin_patient


@pytest.fixture(scope="session")
def clamd() -> Iterator[RunningClamd]:
    require(clamd_binary() is not None, "clamd (Debian clamav-daemon: scripts/install-system-packages)")
    root = short_tmpdir("pcv")
    try:
        with start_clamd(root) as running:
            yield running
    finally:
        shutil.rmtree(root, ignore_errors=True)


def skip_earlier_shares(world: World, ctx: Context) -> None:
    """The platform is shared by the module's tests: this practice starts after the shares
    other tests published (the cursor as a practice that was set up later would have it)."""
    with fast_client(world.platform) as api:
        cursor, listed = None, True
        while listed:
            listed, cursor = api.shares(cursor)
    ctx.store.set_meta("shares_cursor", cursor or "")


def prepared_share(world: World, patient: SimulatedPatient, data: bytes, name: str,
                   **options: object) -> SharedDocument:
    """What ``patient``'s app makes to share ``data`` with the practice (not published yet);
    ``options`` go to :meth:`SimulatedPatient.share` (``manifest_changes``, ``signed`` ...)."""
    return patient.share(data, name, world.practice_key, "praxis-test", document_type="Befund",
                         document_date="2026-11-30", **options)  # type: ignore[arg-type]


def publish(world: World, shared: SharedDocument, share_id: str | None = None, *,
            document: SharedDocument | None = None) -> str:
    """The platform lists ``shared`` under ``share_id`` (by default the id its app chose);
    a platform that swaps shares serves another one's ``document`` with this manifest."""
    return ShareStore(world.platform.data_dir).publish((document or shared).document, shared.manifest,
                                                       share_id or shared.share_id)


def share(world: World, patient: SimulatedPatient, data: bytes, name: str, **options: object) -> str:
    """The patient shares ``data`` with the practice; the share's id on the platform."""
    return publish(world, prepared_share(world, patient, data, name, **options))


def run_shares(world: World, ctx: Context) -> list[ShareEvent]:
    """One pass of the practice's shares job against the platform; the events it raised."""
    events: list[ShareEvent] = []
    job = SharesJob(ctx, on_event=events.append, client=lambda _ctx: fast_client(world.platform))
    job.run_once()
    job.stop()
    return events


def share_state(ctx: Context, share_id: str) -> Share:
    found = ctx.store.get_share(share_id)
    assert found is not None, share_id
    return found


def scanning_practice(world: World, client: Context, clamd: RunningClamd, folder: Path,
                      **config: object) -> Context:
    """``client`` as a practice that takes shares: a PMS import folder (made in ``folder``),
    the session's clamd, Erika (1001) pinned, and the platform's earlier shares behind it."""
    (folder / "import").mkdir()
    client.update_config(pms_import_dir=str(folder / "import"), scanner="clamd", clamd_address=str(clamd.socket),
                         **config)
    pin_patient(client, world, "1001")
    skip_earlier_shares(world, client)
    return client
