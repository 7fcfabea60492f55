"""What the shares tests share: a real clamd (started once per session on a unix socket),
a patient's share published on the testbed platform, and a practice that starts after the
shares other tests published. The PDFs with and without active content are
:mod:`tests.support.pdfs`."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from practice_client.context import Context
from practice_client.testbed.clamd import RunningClamd, clamd_binary, start_clamd
from practice_client.testbed.patient import SimulatedPatient
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


def share(world: World, patient: SimulatedPatient, data: bytes, name: str, **options: object) -> str:
    """The patient shares ``data`` with the practice; the share's id on the platform."""
    shared = patient.share(data, name, world.practice_key, "praxis-test", document_type="Befund",
                           document_date="2026-11-30", **options)  # type: ignore[arg-type]
    return ShareStore(world.platform.data_dir).publish(shared.document, shared.manifest, shared.share_id)


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
