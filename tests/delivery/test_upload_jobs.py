"""The upload jobs on their own: each is given what it works on when made and the client
it talks through when run (real testbed over HTTPS, no store, no agent)."""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from practice_client.delivery.upload import PART_DOCUMENT, PART_MANIFEST, CreateUploads, Parts, SendUploads
from practice_client.platform.api import PlatformClient
from practice_client.platform.tus import UploadState
from tests.support.platform import fast_client
from tests.support.worlds import World

REQ = "req-00000043"


@pytest.fixture
def platform_client(world: World) -> Iterator[PlatformClient]:
    world.platform.faults.clear()
    with fast_client(world.platform) as client:
        yield client


def parts(folder: Path) -> Parts:
    (folder / "manifest.pgp").write_bytes(b"m" * 100)
    (folder / "document.pgp").write_bytes(os.urandom(300_000))
    return (PART_MANIFEST, folder / "manifest.pgp"), (PART_DOCUMENT, folder / "document.pgp")


def test_only_the_missing_uploads_are_created_and_nothing_is_sent(
        platform_client: PlatformClient, work_dir: Path) -> None:
    files = parts(work_dir)
    stored = CreateUploads(str(uuid.uuid4()), REQ, files[:1], {}).run(platform_client.tus)
    created = CreateUploads(str(uuid.uuid4()), REQ, files, stored).run(platform_client.tus)
    assert list(stored) == [PART_MANIFEST] and list(created) == [PART_DOCUMENT]
    assert platform_client.tus.state(created[PART_DOCUMENT]) == UploadState(0, 300_000)  # empty


def test_a_gone_upload_is_created_anew_and_stored_before_a_byte_goes_to_it(
        platform_client: PlatformClient, work_dir: Path) -> None:
    tus, files, document_id = platform_client.tus, parts(work_dir), str(uuid.uuid4())
    urls = CreateUploads(document_id, REQ, files, {}).run(tus)
    tus.terminate(urls[PART_DOCUMENT])  # gone meanwhile (the platform's expiration, say)
    stored: list[tuple[str, str, UploadState]] = []

    def replaced(part: str, url: str) -> None:
        stored.append((part, url, tus.state(url)))  # what the server holds when the URL is stored

    SendUploads(document_id, REQ, files, urls, frozenset(urls.values()), threading.Event()).run(tus, replaced)
    ((part, url, held),) = stored
    assert part == PART_DOCUMENT and url != urls[PART_DOCUMENT] and held == UploadState(0, 300_000)
    assert tus.state(url).complete and tus.state(urls[PART_MANIFEST]).complete
