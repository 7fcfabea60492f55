"""Delivery against a standard tus server - the official @tus/server (npm, with its file
store, default naming: a random id per upload, every POST a new upload) and the testbed,
which behaves the same way - with ``kill -9`` of the agent at moments of a large upload.

After the last restart the document is delivered, every part finished exactly once (the
platform's finish hook records each finish), no unfinished upload of the document is
left, and the server holds at most 1.05 x the document's bytes for it. Also the two
crash windows of the protocol: between creating an upload and storing its URL, and
between abandoning an upload and its DELETE."""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from practice_client.context import Context
from tests.conftest import short_tmpdir
from tests.support.delivery import start_agent, states, stop_agent
from tests.support.waiting import wait_for
from tests.support.worlds import World, accepted_request, pin_patient, write_file
from tests.tus_server import official_tus_server

pytestmark = pytest.mark.slow

LARGE = 48 * 1024 * 1024 + 11  # streamed while gpg writes it (creation-defer-length)
KILL_AT = (0.25, 0.6, 0.9)  # of the document's bytes the server holds when the agent is killed


@dataclass
class Held:
    upload_id: str
    part: str
    nbytes: int
    complete: bool


@dataclass
class Server:
    """The platform under test and how to read what it holds for a document."""

    name: str
    url: str
    finishes: Path
    uploads: Callable[[str], list[Held]]
    filed_bytes: Callable[[str], int]  # bytes of the filed document not counted in ``uploads``

    def finished(self, document_id: str, part: str) -> int:
        return len(list(self.finishes.glob(f"{document_id}.{part}.*")))

    def held(self, document_id: str) -> int:
        return sum(h.nbytes for h in self.uploads(document_id)) + self.filed_bytes(document_id)


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def server_of_testbed(world: World) -> Server:
    data = world.platform.data_dir

    def uploads(document_id: str) -> list[Held]:
        found = []
        for meta in data.glob("uploads/*.json"):
            try:
                with_meta = json.loads(meta.read_text())
            except FileNotFoundError:  # finished and filed between the listing and the read: not held
                continue
            if with_meta["document_id"] == document_id:
                found.append(Held(with_meta["upload_id"], with_meta["part"],
                                  _size(meta.with_suffix(".bin")), with_meta["complete"]))
        return found

    def filed(document_id: str) -> int:
        return sum(_size(data / "documents" / f"{document_id}{suffix}") for suffix in (".pgp", ".manifest.pgp"))

    return Server("testbed", world.platform.url, data / "finishes", uploads, filed)


def tus_view(store: Path, url: str, finishes: Path) -> Server:
    def uploads(document_id: str) -> list[Held]:
        found = []
        for meta in store.glob("*.json"):
            try:
                upload = json.loads(meta.read_text())
            except ValueError:  # being written this moment (the file store writes in place)
                continue
            if (upload.get("metadata") or {}).get("document_id") == document_id:
                nbytes = _size(store / upload["id"])
                found.append(Held(upload["id"], upload["metadata"]["part"], nbytes,
                                  upload.get("size") is not None and nbytes == upload["size"]))
        return found

    return Server("@tus/server", url, finishes, uploads, lambda document_id: 0)  # filed: hard links


@pytest.fixture(params=["testbed", "tus-server"])
def server(request: pytest.FixtureRequest, world: World, client: Context) -> Iterator[Server]:
    world.platform.faults.clear()
    if request.param == "testbed":
        yield server_of_testbed(world)
        return
    root = short_tmpdir("tus")
    with official_tus_server(world.platform, root) as official:
        client.update_config(server_url=official.url)
        yield tus_view(official.store, official.url, official.finishes)


def pending_terminations(ctx: Context) -> int:
    with sqlite3.connect(f"file:{ctx.home.database}?mode=ro", uri=True, timeout=5) as db:
        return int(db.execute("SELECT count(*) FROM terminations").fetchone()[0])


def stored_urls(ctx: Context, document_id: str) -> int:
    with sqlite3.connect(f"file:{ctx.home.database}?mode=ro", uri=True, timeout=5) as db:
        return int(db.execute("SELECT count(*) FROM uploads WHERE document_id=?", (document_id,)).fetchone()[0])


def new_document(ctx: Context, known: set[str]) -> str | None:
    fresh = set(states(ctx.home.database)) - known
    return next(iter(fresh)) if fresh else None


def poll(predicate: Callable[[], object], timeout: float = 120.0) -> object:
    """Tighter than wait_for's default: a kill must land while the upload is under way."""
    return wait_for(predicate, timeout, "the upload's next step", interval=0.002)


def deliver_after_restart(ctx: Context, document_id: str) -> None:
    agent = start_agent(ctx)
    try:
        wait_for(lambda: states(ctx.home.database)[document_id] == "delivered", timeout=180,
                 what="delivery after the restart")
        wait_for(lambda: pending_terminations(ctx) == 0, timeout=60, what="the terminations")
    finally:
        stop_agent(agent, ctx)


def assert_exactly_once(server: Server, world: World, ctx: Context, document_id: str, content: bytes,
                        patient_fpr: str) -> None:
    doc = ctx.store.get_document(document_id)
    assert doc is not None and doc.state == "delivered"
    for part in ("document", "manifest"):
        assert server.finished(document_id, part) == 1, part  # never finished twice
    assert [h for h in server.uploads(document_id) if not h.complete] == []  # nothing left behind
    stored = world.platform.data_dir / "documents"
    document_bytes = _size(stored / f"{document_id}.pgp") + _size(stored / f"{document_id}.manifest.pgp")
    assert server.held(document_id) <= 1.05 * document_bytes
    patient = next(p for p in world.patients.values() if p.fingerprint == patient_fpr)
    data, _, signed = patient.decrypt(stored / f"{document_id}.pgp", None, world.practice_key)
    assert data == content and signed


def test_sigkill_at_moments_of_a_large_upload_delivers_each_part_exactly_once(
    server: Server, world: World, client: Context
) -> None:
    patient = pin_patient(client, world, "1002")
    accepted_request(client, patient.fingerprint, "1002")
    client.update_config(stable_seconds=0.05)
    content = os.urandom(LARGE)
    known = set(states(client.home.database))
    document_id = ""
    mid_upload = 0
    for index, fraction in enumerate(KILL_AT):
        agent = start_agent(client)
        if index == 0:
            write_file(Path(client.config.export_dir) / "1002_31011960_mrt.dcm", content)
            document_id = str(poll(lambda: new_document(client, known)))
        poll(lambda: server.held(document_id) >= fraction * LARGE  # noqa: B023
             or states(client.home.database)[document_id] == "delivered")
        agent.kill()
        agent.wait(timeout=30)
        held, state = server.held(document_id), states(client.home.database)[document_id]
        mid_upload += state != "delivered" and 0 < held < LARGE
    assert mid_upload, "no kill landed while the upload was under way"
    deliver_after_restart(client, document_id)
    assert_exactly_once(server, world, client, document_id, content, patient.fingerprint)


def test_crash_between_creating_an_upload_and_storing_its_url(world: World, client: Context) -> None:
    """The POST went through, the answer never reached the outbox: the server holds an
    empty upload the client cannot know (its expiration removes it) - never a byte of the
    document, and the restart creates new uploads that finish once."""
    server = server_of_testbed(world)
    world.platform.faults.clear()
    patient = pin_patient(client, world, "1002")
    accepted_request(client, patient.fingerprint, "1002")
    client.update_config(stable_seconds=0.05)
    world.platform.faults.delay_next("upload.create", 30.0)  # created, the answer held back
    content = os.urandom(200_000)
    known = set(states(client.home.database))
    agent = start_agent(client)
    try:
        write_file(Path(client.config.export_dir) / "1002_31011960_brief.pdf", content)
        document_id = str(poll(lambda: new_document(client, known)))
        poll(lambda: server.uploads(document_id))  # the server has created it ...
    finally:
        agent.kill()
        agent.wait(timeout=30)
    assert stored_urls(client, document_id) == 0  # ... the client never learnt where
    (orphan,) = server.uploads(document_id)
    world.platform.faults.clear()
    deliver_after_restart(client, document_id)
    left = [h for h in server.uploads(document_id) if not h.complete]
    assert [(h.upload_id, h.nbytes) for h in left] == [(orphan.upload_id, 0)]  # empty: no copy of anything
    for part in ("document", "manifest"):
        assert server.finished(document_id, part) == 1


def test_crash_between_abandoning_an_upload_and_its_delete(world: World, client: Context) -> None:
    """Killed while streaming an encryption, the restart encrypts anew and abandons the
    partial upload - but its DELETE fails, and the agent is killed again. The abandonment
    was recorded with the decision: the next start still sends the DELETE, and only then
    completes the new uploads."""
    server = server_of_testbed(world)
    world.platform.faults.clear()
    patient = pin_patient(client, world, "1002")
    accepted_request(client, patient.fingerprint, "1002")
    client.update_config(stable_seconds=0.05)
    world.platform.faults.delay_next("upload.patch", 30.0)  # the first streamed PATCH hangs
    content = os.urandom(8 * 1024 * 1024 + 7)
    known = set(states(client.home.database))
    agent = start_agent(client)
    try:
        write_file(Path(client.config.export_dir) / "1002_31011960_stream.pdf", content)
        document_id = str(poll(lambda: new_document(client, known)))
        poll(lambda: server.held(document_id) > 0)
    finally:
        agent.kill()
        agent.wait(timeout=30)
    (partial,) = server.uploads(document_id)
    world.platform.faults.clear()
    world.platform.faults.fail_next("upload.delete", count=1000, status=503)
    deletes = world.platform.stats.calls("upload.delete")
    agent = start_agent(client)
    try:
        wait_for(lambda: world.platform.stats.calls("upload.delete") > deletes, what="a DELETE tried")
    finally:
        agent.kill()
        agent.wait(timeout=30)
    assert pending_terminations(client) == 1
    assert partial.upload_id in {h.upload_id for h in server.uploads(document_id)}  # still there
    assert states(client.home.database)[document_id] != "delivered"  # waits for the DELETE
    world.platform.faults.clear()
    deliver_after_restart(client, document_id)
    assert partial.upload_id not in {h.upload_id for h in server.uploads(document_id)}
    assert_exactly_once(server, world, client, document_id, content, patient.fingerprint)
