"""Before a streamed encryption: every upload an earlier attempt stored for the document
is abandoned (queued for termination in the same transaction) and a new, empty upload
is created and stored before a byte is streamed (real testbed over HTTPS, a real store)."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from practice_client.context import Context
from practice_client.delivery.terminations import Terminator
from practice_client.delivery.upload import ENCRYPTED_ANEW, Plan, StreamUpload
from practice_client.platform.api import PlatformClient
from practice_client.platform.tus import UploadState
from practice_client.testbed.platform import TestbedPlatform
from tests.support.platform import fast_client
from tests.support.worlds import World, accepted_request, pin_patient

REQ = "req-00000042"


@pytest.fixture
def platform(world: World) -> TestbedPlatform:
    world.platform.faults.clear()
    return world.platform


@pytest.fixture
def platform_client(platform: TestbedPlatform) -> Iterator[PlatformClient]:
    with fast_client(platform) as client:
        yield client


def new_document(ctx: Context, world: World) -> str:
    from practice_client.delivery.outbox import add_files

    patient = pin_patient(ctx, world, "1001")
    request_id = accepted_request(ctx, patient.fingerprint, "1001")
    source = ctx.home.root / "1001_scan.pdf"
    source.write_bytes(b"scan")
    (doc,) = add_files(ctx, [source], request_id)
    return doc.document_id


def stream(ctx: Context, client: PlatformClient, document_id: str, told: list[int]) -> StreamUpload:
    return StreamUpload(ctx.store, client, document_id, REQ, threading.Event(), lambda: told.append(1))


def test_a_first_attempt_stores_an_empty_deferred_upload_before_streaming(
    client: Context, world: World, platform_client: PlatformClient
) -> None:
    document_id = new_document(client, world)
    told: list[int] = []
    assert stream(client, platform_client, document_id, told).prepare() is Plan.STREAM
    url = client.store.uploads_of(document_id)["document"]
    assert platform_client.tus.state(url) == UploadState(0, None)
    assert told == [] and client.store.pending_terminations() == []


def test_an_earlier_attempts_upload_is_abandoned_and_then_terminated(
    client: Context, world: World, platform: TestbedPlatform, platform_client: PlatformClient
) -> None:
    document_id = new_document(client, world)
    stream(client, platform_client, document_id, []).prepare()
    earlier = client.store.uploads_of(document_id)["document"]
    told: list[int] = []
    assert stream(client, platform_client, document_id, told).prepare() is Plan.STREAM
    (pending,) = client.store.pending_terminations(document_id)
    assert pending.url == earlier and pending.reason == ENCRYPTED_ANEW and told == [1]
    assert client.store.uploads_of(document_id)["document"] != earlier
    cancel = threading.Event()
    Terminator(client.store, lambda: platform_client, cancel).drain(document_id)
    assert client.store.pending_terminations() == []
    assert tus_status(platform, earlier) == 404
    entries = [e["event"] for e in client.store.audit.entries()]
    assert "document.uploads_abandoned" in entries and "upload.terminated" in entries


def tus_status(platform: TestbedPlatform, url: str) -> int:
    import requests

    return requests.head(platform.url + url, verify=str(platform.ca_file), timeout=10, headers={
        "Authorization": f"Bearer {platform.token}", "Tus-Resumable": "1.0.0"}).status_code


def test_an_unreachable_platform_gets_no_stream_but_the_abandonment_is_kept(
    client: Context, world: World, platform: TestbedPlatform, platform_client: PlatformClient
) -> None:
    document_id = new_document(client, world)
    stream(client, platform_client, document_id, []).prepare()
    offline = PlatformClient("https://127.0.0.1:9/", "token", ca_file=platform.ca_file,
                             retry=platform_client.retry, timeouts=platform_client.timeouts)
    with offline:
        assert stream(client, offline, document_id, []).prepare() is Plan.PLAIN
    assert len(client.store.pending_terminations(document_id)) == 1  # for when it is back
    assert client.store.uploads_of(document_id) == {}
