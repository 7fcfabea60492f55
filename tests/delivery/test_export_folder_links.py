"""Folders along the path in the export folder swapped for links (to a private folder of
the user the client runs as): nothing from outside the export folder is ever taken,
delivered or parked where others can read it. ``O_NOFOLLOW`` guards only the last path
component, so the outbox and the watcher walk the export folder with directory handles
(or, where the OS has none, check each folder's identity before and after each step);
both strategies are tested against the swap at the worst moment, made deterministic by
doing it exactly there (no sleeps)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from practice_client.context import Context
from practice_client.core.files import Folder, dir_handles_available
from practice_client.core.models import DocumentState
from practice_client.delivery import outbox
from practice_client.delivery.spool import ORIGINAL, Spool
from practice_client.delivery.watcher import scan
from practice_client.service.agent import Agent
from tests.conftest import require
from tests.support.waiting import wait_for
from tests.support.worlds import World, accepted_request, pin_patient, wait_state, write_file

SECRET = b"private letter of the practice owner - never leaves this folder"


# Windows has no directory handles: the identity checks are its strategy, tested everywhere
STRATEGIES = ["handles", "identity checks"] if os.name == "posix" else ["identity checks"]


@pytest.fixture(params=STRATEGIES)
def strategy(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    if request.param == "handles":
        require(dir_handles_available(), "directory handles (dir_fd with O_DIRECTORY and O_NOFOLLOW)")
    else:
        monkeypatch.setattr(Folder, "use_handles", False)
    return str(request.param)


def request_folder(client: Context, world: World) -> tuple[str, Path]:
    patient = pin_patient(client, world, "1001")
    request_id = accepted_request(client, patient.fingerprint, "1001")
    folder = Path(client.config.export_dir) / request_id
    folder.mkdir()
    return request_id, folder


def private_folder(work_dir: Path) -> Path:
    private = work_dir / "private"
    write_file(private / "brief.pdf", SECRET)
    return private


def swap_for_link(folder: Path, target: Path) -> Path:
    """The attacker: move the request folder aside and put a link in its place."""
    aside = folder.with_name(folder.name + ".aside")
    os.rename(folder, aside)
    os.symlink(target, folder)
    return aside


def assert_untouched(private: Path) -> None:
    st = os.lstat(private / "brief.pdf")
    assert st.st_nlink == 1 and (private / "brief.pdf").read_bytes() == SECRET


def no_secret_anywhere(client: Context) -> bool:
    roots = [client.home.spool, Path(client.config.export_dir) / "processed", Path(client.config.export_dir) / "failed"]
    return not any(SECRET in p.read_bytes() for root in roots if root.exists() for p in root.rglob("*")
                   if p.is_file() and not p.is_symlink())


def test_a_request_folder_swapped_for_a_link_while_the_watcher_was_busy(
        world: World, client: Context, work_dir: Path, strategy: str) -> None:
    _, folder = request_folder(client, world)
    write_file(folder / "brief.pdf", b"the genuine letter")  # the watcher saw this path ...
    private = private_folder(work_dir)
    swap_for_link(folder, private)  # ... and by the time it takes it, the folder is a link

    doc = outbox.ingest(client, folder / "brief.pdf")

    assert doc.state is DocumentState.FAILED, doc
    assert "folder on the way" in (doc.error or "")
    assert_untouched(private)
    assert no_secret_anywhere(client)


def test_a_request_folder_swapped_in_the_middle_of_the_take(
        world: World, client: Context, work_dir: Path, strategy: str, monkeypatch: pytest.MonkeyPatch) -> None:
    _, folder = request_folder(client, world)
    write_file(folder / "brief.pdf", b"the genuine letter")
    private = private_folder(work_dir)
    real_link = os.link
    swapped: list[Path] = []

    def link_after_the_swap(*args: Any, **kwargs: Any) -> None:
        if not swapped:  # the worst moment: the folders are walked, the file is not linked yet
            swapped.append(swap_for_link(folder, private))
        real_link(*args, **kwargs)

    monkeypatch.setattr(os, "link", link_after_the_swap)
    doc = outbox.ingest(client, folder / "brief.pdf")
    monkeypatch.setattr(os, "link", real_link)

    assert swapped
    assert_untouched(private)
    assert no_secret_anywhere(client)
    if strategy == "handles":  # the handle still is the folder that was walked: its file is taken
        assert doc.state is DocumentState.MATCHED
        assert (Spool.of(client).folder(doc.document_id) / ORIGINAL).read_bytes() == b"the genuine letter"
    else:  # the identity check noticed the swap, undid the link and took nothing
        assert doc.state is DocumentState.FAILED
        assert (swapped[0] / "brief.pdf").read_bytes() == b"the genuine letter"


@pytest.mark.parametrize("own", ["processed", "failed"])
def test_processed_or_failed_swapped_for_a_link_never_parks_an_original_there(
        world: World, client: Context, work_dir: Path, own: str, strategy: str) -> None:
    patient = pin_patient(client, world, "1001")
    accepted_request(client, patient.fingerprint, "1001")
    export = Path(client.config.export_dir)
    readable = work_dir / "readable"  # where the attacker wants the patients' originals
    readable.mkdir()
    (export / own).symlink_to(readable)
    agent = Agent(client, sources=[])
    agent.start()
    try:
        if own == "processed":
            write_file(export / "1001_12081964_befund.pdf", b"a patient's report")
            wait_state(client, DocumentState.DELIVERED)
        else:
            write_file(export / "1001_12081964_leer.pdf", b"")  # refused: empty, goes to failed/
            wait_state(client, DocumentState.FAILED)
        wait_for(lambda: not os.path.lexists(Spool.of(client).folder(client.store.list_documents()[0].document_id)),
                 what="the original parked")
    finally:
        agent.stop()
    assert list(readable.iterdir()) == []
    assert (export / own).is_dir() and not (export / own).is_symlink()
    assert len(list((export / own).iterdir())) >= 1
    (aside,) = [p for p in export.iterdir() if p.name.startswith(f".{own}.not-a-folder-")]
    assert aside.is_symlink() and os.readlink(aside) == str(readable)
    assert "export.folder_replaced" in [e["event"] for e in client.store.audit.entries()]


def test_the_scan_never_lists_a_folder_swapped_for_a_link_as_it_descends(
        world: World, client: Context, work_dir: Path, strategy: str, monkeypatch: pytest.MonkeyPatch) -> None:
    _, folder = request_folder(client, world)
    write_file(folder / "brief.pdf", b"the genuine letter")
    private = private_folder(work_dir)
    (private / "brief.pdf").rename(private / "geheim.pdf")
    export = Path(client.config.export_dir)
    real_scandir = os.scandir
    calls: list[object] = []

    def scandir(path: Any = ".") -> Any:
        calls.append(path)
        if len(calls) == 2:  # the scan listed the export folder and now descends: swap first
            swap_for_link(folder, private)
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    found = list(scan(export))
    monkeypatch.setattr(os, "scandir", real_scandir)

    assert len(calls) >= 2
    assert not [p for p in found if p.name == "geheim.pdf"], found  # nothing of the private folder
    assert (private / "geheim.pdf").read_bytes() == SECRET
