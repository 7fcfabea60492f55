"""Resumable upload (tus 1.0, at the URLs the server names) over real HTTPS: round trip,
resume by HEAD on a stored URL, server errors, a connection dropped mid-body, slow
answers, cancel, a hostile server's claims - each with the fault injected by the real
server."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any

import pytest
import requests

from practice_client.core.errors import InputError, NetworkError, PlatformRefused
from practice_client.platform.api import PlatformClient
from practice_client.platform.http import BLOCK_SIZE, RetryPolicy, Timeouts, UploadCancelled
from practice_client.platform.tus import GROWING_MIN_BYTES, UploadGone, UploadState
from practice_client.testbed.platform import TestbedPlatform
from tests.support.platform import fast_client, start_platform
from tests.support.waiting import wait_for

DOC = "3f1c2a9e-6b7d-4e21-9c0a-5d8e7f6a1b2c"
REQ = "req-00000001"


@pytest.fixture
def payload(tmp_path: Path) -> Path:
    path = tmp_path / "payload.pgp"
    path.write_bytes(os.urandom(3 * 1024 * 1024 + 12345))  # not a multiple of the block size
    return path


def stored(platform: TestbedPlatform, name: str) -> bytes:
    return (platform.data_dir / "documents" / name).read_bytes()


def finishes(platform: TestbedPlatform, part: str = "document") -> list[Path]:
    """Which uploads finished ``part`` of DOC (the platform's finish hook records each)."""
    return list((platform.data_dir / "finishes").glob(f"{DOC}.{part}.*"))


def upload(client: PlatformClient, path: Path, part: str = "document", **kwargs: Any) -> str:
    return client.tus.upload(path, document_id=DOC, part=part, request_id=REQ, **kwargs)


def create(client: PlatformClient, path: Path, part: str = "document") -> str:
    return client.tus.create(document_id=DOC, part=part, request_id=REQ, length=path.stat().st_size)


def test_round_trip_is_byte_identical_and_files_the_document_once(
    testbed_platform: TestbedPlatform, client: PlatformClient, payload: Path, tmp_path: Path
) -> None:
    manifest = tmp_path / "manifest.pgp"
    manifest.write_bytes(os.urandom(700))
    seen: list[tuple[int, int]] = []
    url = upload(client, payload, progress=lambda done, total: seen.append((done, total)))
    assert not (testbed_platform.data_dir / "documents" / f"{DOC}.json").exists()  # half a document
    upload(client, manifest, "manifest")
    assert stored(testbed_platform, f"{DOC}.pgp") == payload.read_bytes()
    assert stored(testbed_platform, f"{DOC}.manifest.pgp") == manifest.read_bytes()
    record = json.loads(stored(testbed_platform, f"{DOC}.json"))
    assert record == {"document_id": DOC, "request_id": REQ,
                      "sizes": {"document": payload.stat().st_size, "manifest": 700}}
    assert len(finishes(testbed_platform)) == len(finishes(testbed_platform, "manifest")) == 1
    assert client.download(DOC) == payload.read_bytes()
    assert client.download(DOC, "manifest") == manifest.read_bytes()
    size = payload.stat().st_size
    assert seen[0] == (0, size) and seen[-1] == (size, size)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)
    assert max(b[0] - a[0] for a, b in zip(seen, seen[1:])) <= BLOCK_SIZE  # read block by block
    assert testbed_platform.stats.patch_bytes == size + 700
    assert client.tus.state(url) == UploadState(size, size)  # a finished upload still answers
    assert not [p for p in (testbed_platform.data_dir / "uploads").iterdir() if p.suffix == ".bin"]


def test_the_server_names_each_upload_and_every_post_creates_a_new_one(
    testbed_platform: TestbedPlatform, client: PlatformClient, payload: Path
) -> None:
    first, second = create(client, payload), create(client, payload)
    assert first != second and first.startswith("/v1/uploads/") and DOC not in first
    assert client.tus.state(first) == client.tus.state(second) == UploadState(0, payload.stat().st_size)


def test_sending_again_to_a_finished_upload_sends_nothing(
    testbed_platform: TestbedPlatform, client: PlatformClient, payload: Path
) -> None:
    url = upload(client, payload)
    before = testbed_platform.stats.patch_bytes
    client.tus.send(url, payload)
    assert testbed_platform.stats.patch_bytes == before
    assert testbed_platform.stats.calls("upload.patch") == 1


def test_an_upload_of_another_length_is_refused(
    testbed_platform: TestbedPlatform, client: PlatformClient, payload: Path, tmp_path: Path
) -> None:
    url = create(client, payload)
    other = tmp_path / "other.pgp"
    other.write_bytes(b"x" * 10)
    with pytest.raises(PlatformRefused, match="does not fit"):
        client.tus.send(url, other)


def test_a_gone_upload_says_so(testbed_platform: TestbedPlatform, client: PlatformClient, payload: Path) -> None:
    url = create(client, payload)
    client.tus.terminate(url)
    with pytest.raises(UploadGone):
        client.tus.state(url)
    with pytest.raises(UploadGone):
        client.tus.send(url, payload)
    client.tus.terminate(url)  # gone already: fine


def test_zero_byte_file(testbed_platform: TestbedPlatform, client: PlatformClient, tmp_path: Path) -> None:
    empty = tmp_path / "empty.pgp"
    empty.write_bytes(b"")
    url = upload(client, empty, "manifest")
    assert client.tus.state(url) == UploadState(0, 0)
    assert len(finishes(testbed_platform, "manifest")) == 1


@pytest.mark.parametrize(("route", "status"), [("upload.patch", 500), ("upload.patch", 503),
                                               ("upload.create", 503), ("upload.head", 502)])
def test_server_errors_then_recovery(
    testbed_platform: TestbedPlatform, client: PlatformClient, payload: Path, route: str, status: int
) -> None:
    if route == "upload.head":  # the client asks for the offset only after a failure
        testbed_platform.faults.fail_next("upload.patch", count=1, status=503)
    testbed_platform.faults.fail_next(route, count=3, status=status)
    upload(client, payload)
    assert b"".join(p.read_bytes() for p in (testbed_platform.data_dir / "uploads").glob("*.bin")) \
        == payload.read_bytes()
    assert testbed_platform.stats.calls(route) >= 4
    assert len(finishes(testbed_platform)) == 1


def test_a_server_that_keeps_failing_ends_in_one_clear_error(
    testbed_platform: TestbedPlatform, client: PlatformClient, payload: Path
) -> None:
    testbed_platform.faults.fail_next("upload.patch", count=100, status=503)
    with pytest.raises(NetworkError) as err:
        upload(client, payload)
    message = str(err.value)
    assert "503" in message and "gave up" in message and "\n" not in message
    assert testbed_platform.token not in message
    assert testbed_platform.stats.calls("upload.patch") == client.retry.attempts


def test_other_client_errors_fail_at_once(
    testbed_platform: TestbedPlatform, client: PlatformClient, payload: Path
) -> None:
    testbed_platform.faults.fail_next("upload.patch", count=5, status=403)
    with pytest.raises(NetworkError, match="403"):
        upload(client, payload)
    assert testbed_platform.stats.calls("upload.patch") == 1


def test_connection_dropped_at_90_percent_resumes_from_the_servers_offset(
    testbed_platform: TestbedPlatform, client: PlatformClient, payload: Path
) -> None:
    size = payload.stat().st_size
    testbed_platform.faults.drop_next_patch(after_bytes=int(size * 0.9))
    url = upload(client, payload)
    assert client.tus.state(url).complete
    assert testbed_platform.stats.calls("upload.patch") == 2  # dropped, then the rest
    assert testbed_platform.stats.patch_bytes == size  # each byte once: the retry sent only the last 10 %


def test_repeated_drops_still_make_progress(
    testbed_platform: TestbedPlatform, client: PlatformClient, payload: Path
) -> None:
    testbed_platform.faults.drop_next_patch(after_bytes=400_000, count=6)
    upload(client, payload)
    assert testbed_platform.stats.patch_bytes == payload.stat().st_size
    assert len(finishes(testbed_platform)) == 1


def upload_half_then_give_up(platform: TestbedPlatform, payload: Path) -> tuple[str, int]:
    """The connection drops half-way and the (single-attempt) client gives up, as a
    crashed process would; returns the stored URL and the payload's size."""
    size = payload.stat().st_size
    platform.faults.drop_next_patch(after_bytes=size // 2)
    urls: list[str] = []
    with (
        fast_client(platform, retry=RetryPolicy(attempts=1)) as first,
        pytest.raises(NetworkError, match="gave up after 1"),
    ):
        upload(first, payload, on_created=urls.append)
    return urls[0], size


def test_an_upload_resumes_at_its_stored_url_across_clients(
    testbed_platform: TestbedPlatform, payload: Path
) -> None:
    """A crash after a partial upload: a new client continues at the URL, it does not restart."""
    url, size = upload_half_then_give_up(testbed_platform, payload)
    assert testbed_platform.stats.patch_bytes == size // 2
    with fast_client(testbed_platform) as second:
        second.tus.send(url, payload)
    assert testbed_platform.stats.patch_bytes == size
    assert testbed_platform.stats.calls("upload.create") == 1
    assert len(finishes(testbed_platform)) == 1


def test_slow_answer_times_out_and_is_retried(testbed_platform: TestbedPlatform, tmp_path: Path) -> None:
    small = tmp_path / "small.pgp"
    small.write_bytes(os.urandom(200_000))
    testbed_platform.faults.delay_next("upload.patch", seconds=4.0)
    testbed_platform.faults.delay_next("inbox", seconds=4.0)
    timeouts = Timeouts(connect=5.0, read=1.0, bytes_per_second=10**9)
    with fast_client(testbed_platform, timeouts=timeouts) as client:
        url = upload(client, small)
        assert client.inbox(None) == ([], None)
        assert client.tus.state(url).complete
    assert testbed_platform.stats.calls("upload.patch") == 1  # the bytes had arrived
    assert testbed_platform.stats.calls("upload.head") == 2  # so after the timeout it only asked


def test_read_timeout_grows_with_the_size_sent() -> None:
    timeouts = Timeouts(connect=10.0, read=30.0, bytes_per_second=1024 * 1024)
    assert timeouts.for_size(0) == (10.0, 30.0)
    assert timeouts.for_size(64 * 1024 * 1024) == (10.0, 94.0)


def test_big_files_go_in_several_patches(testbed_platform: TestbedPlatform, payload: Path) -> None:
    with fast_client(testbed_platform, max_patch_bytes=1024 * 1024) as client:
        url = upload(client, payload)
        assert client.tus.state(url).complete
    assert testbed_platform.stats.calls("upload.patch") == 4


def test_cancel_stops_mid_upload_and_a_later_call_resumes(
    testbed_platform: TestbedPlatform, client: PlatformClient, payload: Path
) -> None:
    cancel = threading.Event()
    urls: list[str] = []

    def progress(done: int, total: int) -> None:
        if done >= total // 3:
            cancel.set()

    with pytest.raises(UploadCancelled):
        upload(client, payload, progress=progress, cancel=cancel, on_created=urls.append)
    assert finishes(testbed_platform) == []
    assert testbed_platform.stats.patch_bytes < payload.stat().st_size
    client.tus.send(urls[0], payload)
    assert testbed_platform.stats.patch_bytes == payload.stat().st_size


def tus(platform: TestbedPlatform, method: str, path: str, data: bytes | None = None,
        **headers: str) -> requests.Response:
    return requests.request(
        method, platform.url + path, data=data, verify=str(platform.ca_file), timeout=10,
        headers={"Authorization": f"Bearer {platform.token}", "Tus-Resumable": "1.0.0", **headers},
    )


META = "document_id ZG9jLTAwMDAwMDAx,part ZG9jdW1lbnQ=,request_id cmVxLTAwMDAwMDAx"
OCTETS = {"Content-Type": "application/offset+octet-stream"}


def test_server_speaks_tus_and_refuses_a_wrong_offset(testbed_platform: TestbedPlatform) -> None:
    options = tus(testbed_platform, "OPTIONS", "/v1/uploads")
    assert options.headers["Tus-Version"] == "1.0.0"
    assert options.headers["Tus-Extension"] == (
        "creation,creation-with-upload,creation-defer-length,termination")
    created = tus(testbed_platform, "POST", "/v1/uploads", **{"Upload-Length": "10", "Upload-Metadata": META})
    assert created.status_code == 201
    location = created.headers["Location"]
    head = tus(testbed_platform, "HEAD", location)
    assert head.headers["Upload-Offset"] == "0" and head.headers["Upload-Length"] == "10"
    wrong = tus(testbed_platform, "PATCH", location, b"abc", **{"Upload-Offset": "5", **OCTETS})
    assert wrong.status_code == 409 and wrong.headers["Upload-Offset"] == "0"
    too_much = tus(testbed_platform, "PATCH", location, b"x" * 11, **{"Upload-Offset": "0", **OCTETS})
    assert too_much.status_code == 413
    no_tus = requests.head(testbed_platform.url + location, verify=str(testbed_platform.ca_file),
                           headers={"Authorization": f"Bearer {testbed_platform.token}"}, timeout=10)
    assert no_tus.status_code == 412
    assert tus(testbed_platform, "HEAD", "/v1/uploads/../../token").status_code == 404


def test_creation_with_upload_is_served_for_other_clients(testbed_platform: TestbedPlatform) -> None:
    first = tus(testbed_platform, "POST", "/v1/uploads", b"abc",
                **{"Upload-Length": "6", "Upload-Metadata": META, **OCTETS})
    assert first.status_code == 201 and first.headers["Upload-Offset"] == "3"
    assert tus(testbed_platform, "HEAD", first.headers["Location"]).headers["Upload-Offset"] == "3"


def test_a_file_that_shrinks_mid_upload_fails_at_once_naming_it(
    testbed_platform: TestbedPlatform, client: PlatformClient, payload: Path
) -> None:
    def progress(done: int, total: int) -> None:
        if done >= 1024 * 1024:
            os.truncate(payload, 1024 * 1024 + 10)

    with pytest.raises(InputError, match="payload.pgp"):
        upload(client, payload, progress=progress)
    assert testbed_platform.stats.calls("upload.patch") <= 1  # not retried (the server may not
    # even have seen the aborted request by now)
    assert finishes(testbed_platform) == []


def test_a_restarted_server_resumes_from_the_bytes_on_its_disk(
    testbed_platform: TestbedPlatform, payload: Path
) -> None:
    url, size = upload_half_then_give_up(testbed_platform, payload)
    testbed_platform.stop()
    with start_platform(testbed_platform.data_dir) as restarted, fast_client(restarted) as second:
        second.tus.send(url, payload)
        assert restarted.stats.patch_bytes == size - size // 2
    assert len(finishes(testbed_platform)) == 1


def test_two_workers_sending_the_same_upload_both_succeed_once(
    testbed_platform: TestbedPlatform, client: PlatformClient, payload: Path
) -> None:
    url = create(client, payload)
    errors: list[BaseException] = []

    def work() -> None:
        try:
            with fast_client(testbed_platform) as worker:
                worker.tus.send(url, payload)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    assert testbed_platform.stats.patch_bytes == payload.stat().st_size
    assert len(finishes(testbed_platform)) == 1


def test_a_drop_right_after_the_last_byte_still_completes(
    testbed_platform: TestbedPlatform, client: PlatformClient, payload: Path
) -> None:
    """The answer is lost, the bytes are not: the retry finds the upload complete."""
    testbed_platform.faults.drop_next_patch(after_bytes=payload.stat().st_size)
    upload(client, payload)
    assert testbed_platform.stats.calls("upload.patch") == 1
    assert testbed_platform.stats.patch_bytes == payload.stat().st_size
    assert len(finishes(testbed_platform)) == 1


def test_a_server_crash_before_the_finish_hook_is_finished_on_restart(
    testbed_platform: TestbedPlatform, tmp_path: Path
) -> None:
    """All bytes on disk, the finish hook never ran: the next look finishes it."""
    data = os.urandom(1000)
    source = tmp_path / "doc.pgp"
    source.write_bytes(data)
    testbed_platform.faults.drop_next_patch(after_bytes=999)
    urls: list[str] = []
    with (
        fast_client(testbed_platform, retry=RetryPolicy(attempts=1)) as first,
        pytest.raises(NetworkError),
    ):
        upload(first, source, on_created=urls.append)
    testbed_platform.stop()
    (partial,) = (testbed_platform.data_dir / "uploads").glob("*.bin")
    with partial.open("ab") as handle:  # the last byte made it to disk before the crash
        handle.write(data[-1:])
    with start_platform(testbed_platform.data_dir) as restarted, fast_client(restarted) as second:
        second.tus.send(urls[0], source)
        assert restarted.stats.calls("upload.patch") == 0
    assert len(finishes(testbed_platform)) == 1


# --- a hostile or broken server (issue 13: verify what the server holds) -------------------


def test_a_creation_that_claims_the_whole_upload_is_refused_not_delivered(
    testbed_platform: TestbedPlatform, client: PlatformClient, payload: Path
) -> None:
    """The attack: the POST's answer says Upload-Offset = Upload-Length. Believed, the
    document would count as delivered with no byte sent."""
    testbed_platform.faults.forge_next_create_offsets()
    with pytest.raises(PlatformRefused, match="claims"):
        upload(client, payload)
    assert testbed_platform.stats.calls("upload.patch") == 0
    assert finishes(testbed_platform) == []


def test_an_upload_url_outside_the_platform_is_refused(testbed_platform: TestbedPlatform) -> None:
    with fast_client(testbed_platform) as client:
        for location in ("https://attacker.invalid/v1/uploads/x", "/v1/documents/x", "/v1/uploads/",
                         f"http://127.0.0.1:{testbed_platform.port}/v1/uploads/x"):
            with pytest.raises(PlatformRefused, match="outside"):
                client.tus._own_url(location)
        assert client.tus._own_url(f"{testbed_platform.url}/v1/uploads/abc") == "/v1/uploads/abc"


@pytest.mark.parametrize("checksum", [True, False])
def test_a_body_damaged_on_the_way_is_caught_by_the_checksum_extension(
    tmp_path: Path, payload: Path, checksum: bool
) -> None:
    with TestbedPlatform(tmp_path / "platform", checksum=checksum) as platform, fast_client(platform) as client:
        platform.faults.corrupt_next_patches()
        manifest = tmp_path / "manifest.pgp"
        manifest.write_bytes(os.urandom(500))
        upload(client, payload)
        upload(client, manifest, "manifest")
        delivered = (platform.data_dir / "documents" / f"{DOC}.pgp").read_bytes()
        if checksum:  # refused with 460, sent again: the platform holds the right bytes
            assert delivered == payload.read_bytes()
            assert platform.stats.calls("upload.patch") == 3
        else:  # without the extension the damage goes unnoticed (what the test guards against)
            assert delivered != payload.read_bytes()


# --- a growing file (creation-defer-length) and termination ------------------------------


def test_a_growing_file_streams_before_its_end_and_completes_only_once_declared(
    testbed_platform: TestbedPlatform, client: PlatformClient, tmp_path: Path
) -> None:
    growing = tmp_path / "growing.pgp"
    blocks = [os.urandom(GROWING_MIN_BYTES // 2 + n) for n in range(6)]  # 3 blocks: sent while growing
    finished = threading.Event()
    streamed: list[int] = []
    url = client.tus.create(document_id=DOC, part="document", request_id=REQ, length=None)

    def stream() -> None:
        streamed.append(client.tus.send_growing(url, growing, finished=finished))

    streamer = threading.Thread(target=stream)
    streamer.start()
    with growing.open("wb") as out:
        for block in blocks[:3]:
            out.write(block)
            out.flush()
        # the server has bytes while the file is still being written
        state = wait_for(lambda: (s := client.tus.state(url)).offset > 0 and s, 5.0,
                         "the server's first bytes", interval=0.01)
        assert state.offset > 0 and state.length is None
        for block in blocks[3:]:
            out.write(block)
    finished.set()
    streamer.join(timeout=30)
    size = growing.stat().st_size
    assert streamed == [size]
    # every byte is there, but without a declared length the upload is not complete
    head = tus(testbed_platform, "HEAD", url)
    assert head.headers["Upload-Defer-Length"] == "1" and "Upload-Length" not in head.headers
    assert finishes(testbed_platform) == []
    client.tus.send(url, growing)
    assert client.tus.state(url) == UploadState(size, size)
    assert testbed_platform.stats.patch_bytes == size  # nothing sent twice
    assert len(finishes(testbed_platform)) == 1


def test_a_deferred_length_is_declared_once_and_never_below_the_offset(
    testbed_platform: TestbedPlatform,
) -> None:
    assert tus(testbed_platform, "POST", "/v1/uploads", **{"Upload-Metadata": META}).status_code == 400
    created = tus(testbed_platform, "POST", "/v1/uploads", **{"Upload-Defer-Length": "1", "Upload-Metadata": META})
    assert created.status_code == 201 and created.headers["Upload-Defer-Length"] == "1"
    location = created.headers["Location"]

    def patch(offset: int, data: bytes, **headers: str) -> requests.Response:
        return tus(testbed_platform, "PATCH", location, data, **{"Upload-Offset": str(offset), **OCTETS, **headers})

    assert patch(0, b"x" * 10).headers["Upload-Offset"] == "10"
    assert patch(10, b"", **{"Upload-Length": "5"}).status_code == 400  # below what it holds
    done = patch(10, b"y" * 2, **{"Upload-Length": "12"})
    assert done.status_code == 204 and done.headers["Upload-Length"] == "12"
    assert tus(testbed_platform, "HEAD", location).headers["Upload-Length"] == "12"
    assert list((testbed_platform.data_dir / "finishes").glob("doc-00000001.document.*"))


def test_termination_discards_an_upload_and_a_finished_part_not_yet_filed(
    testbed_platform: TestbedPlatform, client: PlatformClient, payload: Path, tmp_path: Path
) -> None:
    cancel = threading.Event()
    urls: list[str] = []
    with pytest.raises(UploadCancelled):
        upload(client, payload, cancel=cancel, on_created=urls.append,
               progress=lambda done, total: cancel.set() if done > 1024 * 1024 else None)
    client.tus.terminate(urls[0])
    assert not list((testbed_platform.data_dir / "uploads").iterdir())
    finished = upload(client, payload)
    client.tus.terminate(finished)  # the document part was finished, the manifest never came
    manifest = tmp_path / "manifest.pgp"
    manifest.write_bytes(b"m" * 100)
    upload(client, manifest, "manifest")
    assert not (testbed_platform.data_dir / "documents" / f"{DOC}.json").exists()  # never filed
