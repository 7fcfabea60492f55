"""Resumable upload (tus 1.0) over real HTTPS: round trip, idempotency, server errors,
a connection dropped mid-body, slow answers, cancel - each with the fault injected by
the real server."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import pytest
import requests

from practice_client.core.errors import InputError, NetworkError
from practice_client.core.platform import (
    BLOCK_SIZE,
    CREATE_WITH_UPLOAD_BYTES,
    GROWING_MIN_BYTES,
    PlatformClient,
    RetryPolicy,
    Timeouts,
    UploadCancelled,
)
from practice_client.testbed.platform import TestbedPlatform
from tests.fixtures_platform import fast_client, start_platform

DOC = "3f1c2a9e-6b7d-4e21-9c0a-5d8e7f6a1b2c"
REQ = "req-00000001"


@pytest.fixture
def payload(tmp_path: Path) -> Path:
    path = tmp_path / "payload.pgp"
    path.write_bytes(os.urandom(3 * 1024 * 1024 + 12345))  # not a multiple of the block size
    return path


def stored(platform: TestbedPlatform, name: str) -> bytes:
    return (platform.data_dir / "documents" / name).read_bytes()


def test_round_trip_is_byte_identical_and_records_sizes(
    testbed_platform: TestbedPlatform, client: PlatformClient, payload: Path, tmp_path: Path
) -> None:
    manifest = tmp_path / "manifest.pgp"
    manifest.write_bytes(os.urandom(700))
    seen: list[tuple[int, int]] = []
    client.upload(payload, document_id=DOC, part="document", request_id=REQ,
                  progress=lambda done, total: seen.append((done, total)))
    client.upload(manifest, document_id=DOC, part="manifest", request_id=REQ)
    assert stored(testbed_platform, f"{DOC}.pgp") == payload.read_bytes()
    assert stored(testbed_platform, f"{DOC}.manifest.pgp") == manifest.read_bytes()
    record = json.loads(stored(testbed_platform, f"{DOC}.json"))
    assert record == {"document_id": DOC, "request_id": REQ,
                      "sizes": {"document": payload.stat().st_size, "manifest": 700}}
    assert client.download(DOC) == payload.read_bytes()
    assert client.download(DOC, "manifest") == manifest.read_bytes()
    size = payload.stat().st_size
    assert seen[0] == (0, size) and seen[-1] == (size, size)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)
    assert max(b[0] - a[0] for a, b in zip(seen, seen[1:])) <= BLOCK_SIZE  # read block by block
    assert testbed_platform.stats.patch_bytes == size + 700
    assert not [p for p in (testbed_platform.data_dir / "uploads").iterdir() if p.suffix == ".bin"]


def test_repeating_a_finished_upload_sends_nothing(
    testbed_platform: TestbedPlatform, client: PlatformClient, payload: Path
) -> None:
    client.upload(payload, document_id=DOC, part="document", request_id=REQ)
    before = testbed_platform.stats.patch_bytes
    client.upload(payload, document_id=DOC, part="document", request_id=REQ)
    assert testbed_platform.stats.patch_bytes == before
    assert testbed_platform.stats.calls("upload.patch") == 1


def test_a_document_id_reused_with_another_length_is_refused(
    testbed_platform: TestbedPlatform, client: PlatformClient, payload: Path, tmp_path: Path
) -> None:
    client.upload(payload, document_id=DOC, part="document", request_id=REQ)
    other = tmp_path / "other.pgp"
    other.write_bytes(b"x" * 10)
    with pytest.raises(NetworkError, match="409"):
        client.upload(other, document_id=DOC, part="document", request_id=REQ)
    assert stored(testbed_platform, f"{DOC}.pgp") == payload.read_bytes()


def test_zero_byte_file(testbed_platform: TestbedPlatform, client: PlatformClient, tmp_path: Path) -> None:
    empty = tmp_path / "empty.pgp"
    empty.write_bytes(b"")
    client.upload(empty, document_id=DOC, part="manifest", request_id=REQ)
    assert stored(testbed_platform, f"{DOC}.manifest.pgp") == b""


@pytest.mark.parametrize(("route", "status"), [("upload.patch", 500), ("upload.patch", 503),
                                               ("upload.create", 503), ("upload.head", 502)])
def test_server_errors_then_recovery(
    testbed_platform: TestbedPlatform, client: PlatformClient, payload: Path, route: str, status: int
) -> None:
    if route == "upload.head":  # the client asks for the offset only after a failure
        testbed_platform.faults.fail_next("upload.patch", count=1, status=503)
    testbed_platform.faults.fail_next(route, count=3, status=status)
    client.upload(payload, document_id=DOC, part="document", request_id=REQ)
    assert stored(testbed_platform, f"{DOC}.pgp") == payload.read_bytes()
    assert testbed_platform.stats.calls(route) >= 4


def test_a_server_that_keeps_failing_ends_in_one_clear_error(
    testbed_platform: TestbedPlatform, client: PlatformClient, payload: Path
) -> None:
    testbed_platform.faults.fail_next("upload.patch", count=100, status=503)
    with pytest.raises(NetworkError) as err:
        client.upload(payload, document_id=DOC, part="document", request_id=REQ)
    message = str(err.value)
    assert "503" in message and "gave up" in message and "\n" not in message
    assert testbed_platform.token not in message
    assert testbed_platform.stats.calls("upload.patch") == client.retry.attempts


def test_other_client_errors_fail_at_once(
    testbed_platform: TestbedPlatform, client: PlatformClient, payload: Path
) -> None:
    testbed_platform.faults.fail_next("upload.patch", count=5, status=403)
    with pytest.raises(NetworkError, match="403"):
        client.upload(payload, document_id=DOC, part="document", request_id=REQ)
    assert testbed_platform.stats.calls("upload.patch") == 1


def test_connection_dropped_at_90_percent_resumes_from_the_servers_offset(
    testbed_platform: TestbedPlatform, client: PlatformClient, payload: Path
) -> None:
    size = payload.stat().st_size
    testbed_platform.faults.drop_next_patch(after_bytes=int(size * 0.9))
    client.upload(payload, document_id=DOC, part="document", request_id=REQ)
    assert stored(testbed_platform, f"{DOC}.pgp") == payload.read_bytes()
    assert testbed_platform.stats.calls("upload.patch") == 2  # dropped, then the rest
    received = testbed_platform.stats.patch_bytes
    assert received == size  # each byte arrived once: the retry sent only the last 10 %


def test_repeated_drops_still_make_progress(
    testbed_platform: TestbedPlatform, client: PlatformClient, payload: Path
) -> None:
    testbed_platform.faults.drop_next_patch(after_bytes=400_000, count=6)
    client.upload(payload, document_id=DOC, part="document", request_id=REQ)
    assert stored(testbed_platform, f"{DOC}.pgp") == payload.read_bytes()
    assert testbed_platform.stats.patch_bytes == payload.stat().st_size


def upload_half_then_give_up(platform: TestbedPlatform, payload: Path) -> int:
    """The connection drops half-way and the (single-attempt) client gives up, as a
    crashed process would; returns the payload's size."""
    size = payload.stat().st_size
    platform.faults.drop_next_patch(after_bytes=size // 2)
    with (
        fast_client(platform, retry=RetryPolicy(attempts=1)) as first,
        pytest.raises(NetworkError, match="gave up after 1"),
    ):
        first.upload(payload, document_id=DOC, part="document", request_id=REQ)
    return size


def test_an_upload_resumes_across_clients_and_processes(
    testbed_platform: TestbedPlatform, payload: Path
) -> None:
    """A crash after a partial upload: a new client continues, it does not restart."""
    size = upload_half_then_give_up(testbed_platform, payload)
    assert testbed_platform.stats.patch_bytes == size // 2
    with fast_client(testbed_platform) as second:
        second.upload(payload, document_id=DOC, part="document", request_id=REQ)
    assert testbed_platform.stats.patch_bytes == size
    assert stored(testbed_platform, f"{DOC}.pgp") == payload.read_bytes()


def test_slow_answer_times_out_and_is_retried(testbed_platform: TestbedPlatform, tmp_path: Path) -> None:
    small = tmp_path / "small.pgp"
    small.write_bytes(os.urandom(CREATE_WITH_UPLOAD_BYTES + 50_000))  # too big to ride on the POST
    testbed_platform.faults.delay_next("upload.patch", seconds=4.0)
    testbed_platform.faults.delay_next("inbox", seconds=4.0)
    timeouts = Timeouts(connect=5.0, read=1.0, bytes_per_second=10**9)
    with fast_client(testbed_platform, timeouts=timeouts) as client:
        client.upload(small, document_id=DOC, part="document", request_id=REQ)
        assert client.inbox(None) == ([], None)
    assert stored(testbed_platform, f"{DOC}.pgp") == small.read_bytes()
    assert testbed_platform.stats.calls("upload.patch") == 1  # the bytes had arrived
    assert testbed_platform.stats.calls("upload.head") == 1  # so after the timeout it only asked
    assert testbed_platform.stats.calls("inbox") >= 2


def test_read_timeout_grows_with_the_size_sent() -> None:
    timeouts = Timeouts(connect=10.0, read=30.0, bytes_per_second=1024 * 1024)
    assert timeouts.for_size(0) == (10.0, 30.0)
    assert timeouts.for_size(64 * 1024 * 1024) == (10.0, 94.0)


def test_big_files_go_in_several_patches(testbed_platform: TestbedPlatform, payload: Path) -> None:
    with fast_client(testbed_platform, max_patch_bytes=1024 * 1024) as client:
        client.upload(payload, document_id=DOC, part="document", request_id=REQ)
    assert testbed_platform.stats.calls("upload.patch") == 4
    assert stored(testbed_platform, f"{DOC}.pgp") == payload.read_bytes()


def test_cancel_stops_mid_upload_and_a_later_call_resumes(
    testbed_platform: TestbedPlatform, client: PlatformClient, payload: Path
) -> None:
    cancel = threading.Event()

    def progress(done: int, total: int) -> None:
        if done >= total // 3:
            cancel.set()

    with pytest.raises(UploadCancelled):
        client.upload(payload, document_id=DOC, part="document", request_id=REQ,
                      progress=progress, cancel=cancel)
    assert not (testbed_platform.data_dir / "documents" / f"{DOC}.pgp").exists()
    partial = testbed_platform.stats.patch_bytes
    assert partial < payload.stat().st_size
    client.upload(payload, document_id=DOC, part="document", request_id=REQ)
    assert stored(testbed_platform, f"{DOC}.pgp") == payload.read_bytes()
    assert testbed_platform.stats.patch_bytes == payload.stat().st_size


def tus(platform: TestbedPlatform, method: str, path: str, **headers: str) -> requests.Response:
    return requests.request(
        method, platform.url + path, verify=str(platform.ca_file), timeout=10,
        headers={"Authorization": f"Bearer {platform.token}", "Tus-Resumable": "1.0.0", **headers},
    )


def test_server_speaks_tus_and_refuses_a_wrong_offset(testbed_platform: TestbedPlatform) -> None:
    options = tus(testbed_platform, "OPTIONS", "/v1/uploads")
    assert options.headers["Tus-Version"] == "1.0.0"
    assert options.headers["Tus-Extension"] == (
        "creation,creation-with-upload,creation-defer-length,termination")
    meta = "document_id ZG9jLTAwMDAwMDAx,part ZG9jdW1lbnQ=,request_id cmVxLTAwMDAwMDAx"
    created = tus(testbed_platform, "POST", "/v1/uploads", **{"Upload-Length": "10", "Upload-Metadata": meta})
    assert created.status_code == 201
    location = created.headers["Location"]
    assert location == "/v1/uploads/doc-00000001.document"
    again = tus(testbed_platform, "POST", "/v1/uploads", **{"Upload-Length": "10", "Upload-Metadata": meta})
    assert again.status_code == 201 and again.headers["Location"] == location
    other = tus(testbed_platform, "POST", "/v1/uploads", **{"Upload-Length": "11", "Upload-Metadata": meta})
    assert other.status_code == 409
    head = tus(testbed_platform, "HEAD", location)
    assert head.headers["Upload-Offset"] == "0" and head.headers["Upload-Length"] == "10"
    ctype = {"Content-Type": "application/offset+octet-stream"}
    wrong = requests.patch(testbed_platform.url + location, data=b"abc", verify=str(testbed_platform.ca_file),
                           headers={"Authorization": f"Bearer {testbed_platform.token}",
                                    "Tus-Resumable": "1.0.0", "Upload-Offset": "5", **ctype}, timeout=10)
    assert wrong.status_code == 409 and wrong.headers["Upload-Offset"] == "0"
    too_much = requests.patch(testbed_platform.url + location, data=b"x" * 11,
                              verify=str(testbed_platform.ca_file),
                              headers={"Authorization": f"Bearer {testbed_platform.token}",
                                       "Tus-Resumable": "1.0.0", "Upload-Offset": "0", **ctype}, timeout=10)
    assert too_much.status_code == 413
    no_tus = requests.head(testbed_platform.url + location, verify=str(testbed_platform.ca_file),
                           headers={"Authorization": f"Bearer {testbed_platform.token}"}, timeout=10)
    assert no_tus.status_code == 412


def test_a_file_that_shrinks_mid_upload_fails_at_once_naming_it(
    testbed_platform: TestbedPlatform, client: PlatformClient, payload: Path
) -> None:
    def progress(done: int, total: int) -> None:
        if done >= 1024 * 1024:
            os.truncate(payload, 1024 * 1024 + 10)

    with pytest.raises(InputError, match="payload.pgp"):
        client.upload(payload, document_id=DOC, part="document", request_id=REQ, progress=progress)
    assert testbed_platform.stats.calls("upload.patch") <= 1  # not retried (the server may not
    # even have seen the aborted request by now)
    assert not (testbed_platform.data_dir / "documents" / f"{DOC}.pgp").exists()


def test_a_restarted_server_resumes_from_the_bytes_on_its_disk(
    testbed_platform: TestbedPlatform, payload: Path
) -> None:
    size = upload_half_then_give_up(testbed_platform, payload)
    testbed_platform.stop()
    with start_platform(testbed_platform.data_dir) as restarted, fast_client(restarted) as second:
        second.upload(payload, document_id=DOC, part="document", request_id=REQ)
        assert restarted.stats.patch_bytes == size - size // 2
    assert stored(testbed_platform, f"{DOC}.pgp") == payload.read_bytes()


def test_two_workers_uploading_the_same_document_both_succeed_once(
    testbed_platform: TestbedPlatform, payload: Path
) -> None:
    errors: list[BaseException] = []

    def work() -> None:
        try:
            with fast_client(testbed_platform) as worker:
                worker.upload(payload, document_id=DOC, part="document", request_id=REQ)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    assert stored(testbed_platform, f"{DOC}.pgp") == payload.read_bytes()
    assert testbed_platform.stats.patch_bytes == payload.stat().st_size


def test_a_drop_right_after_the_last_byte_still_delivers(
    testbed_platform: TestbedPlatform, client: PlatformClient, payload: Path
) -> None:
    """The answer is lost, the bytes are not: the retry finds the upload complete."""
    testbed_platform.faults.drop_next_patch(after_bytes=payload.stat().st_size)
    client.upload(payload, document_id=DOC, part="document", request_id=REQ)
    assert stored(testbed_platform, f"{DOC}.pgp") == payload.read_bytes()
    assert testbed_platform.stats.calls("upload.patch") == 1
    assert testbed_platform.stats.patch_bytes == payload.stat().st_size


def test_a_server_crash_before_the_move_is_finished_on_restart(
    testbed_platform: TestbedPlatform, client: PlatformClient, tmp_path: Path
) -> None:
    """All bytes on disk, the move to documents/ never happened: the next look finishes it."""
    data = os.urandom(1000)
    source = tmp_path / "doc.pgp"
    source.write_bytes(data)
    testbed_platform.faults.drop_next_patch(after_bytes=999)
    with (
        fast_client(testbed_platform, retry=RetryPolicy(attempts=1)) as first,
        pytest.raises(NetworkError),
    ):
        first.upload(source, document_id=DOC, part="document", request_id=REQ)
    testbed_platform.stop()
    partial = testbed_platform.data_dir / "uploads" / f"{DOC}.document.bin"
    with partial.open("ab") as handle:  # the last byte made it to disk before the crash
        handle.write(data[-1:])
    with start_platform(testbed_platform.data_dir) as restarted, fast_client(restarted) as second:
        second.upload(source, document_id=DOC, part="document", request_id=REQ)
        assert restarted.stats.calls("upload.patch") == 0
    assert stored(testbed_platform, f"{DOC}.pgp") == data


def test_small_file_travels_with_the_creating_post(
    testbed_platform: TestbedPlatform, client: PlatformClient, tmp_path: Path
) -> None:
    """creation-with-upload: one round trip per small file, no PATCH, no HEAD."""
    small = tmp_path / "small.pgp"
    small.write_bytes(os.urandom(100 * 1024))
    client.upload(small, document_id=DOC, part="document", request_id=REQ)
    assert stored(testbed_platform, f"{DOC}.pgp") == small.read_bytes()
    assert testbed_platform.stats.calls("upload.create") == 1
    assert testbed_platform.stats.calls("upload.patch") == 0
    assert testbed_platform.stats.calls("upload.head") == 0
    # Idempotent: the same upload again sends nothing new and changes nothing.
    client.upload(small, document_id=DOC, part="document", request_id=REQ)
    assert stored(testbed_platform, f"{DOC}.pgp") == small.read_bytes()


def test_repeated_post_with_body_keeps_the_bytes_already_received(testbed_platform: TestbedPlatform) -> None:
    meta = "document_id ZG9jLTAwMDAwMDAx,part ZG9jdW1lbnQ=,request_id cmVxLTAwMDAwMDAx"
    body = {"Upload-Length": "6", "Upload-Metadata": meta, "Content-Type": "application/offset+octet-stream"}
    first = requests.post(testbed_platform.url + "/v1/uploads", data=b"abc", verify=str(testbed_platform.ca_file),
                          headers={"Authorization": f"Bearer {testbed_platform.token}", "Tus-Resumable": "1.0.0",
                                   **body}, timeout=10)
    assert first.status_code == 201 and first.headers["Upload-Offset"] == "3"
    again = requests.post(testbed_platform.url + "/v1/uploads", data=b"XYZXYZ", verify=str(testbed_platform.ca_file),
                          headers={"Authorization": f"Bearer {testbed_platform.token}", "Tus-Resumable": "1.0.0",
                                   **body}, timeout=10)
    assert again.status_code == 201 and again.headers["Upload-Offset"] == "3"  # body ignored, not spliced
    head = tus(testbed_platform, "HEAD", first.headers["Location"])
    assert head.headers["Upload-Offset"] == "3"


# --- a growing file (creation-defer-length) and termination ------------------------------


def test_a_growing_file_streams_before_its_end_and_completes_only_once_declared(
    testbed_platform: TestbedPlatform, client: PlatformClient, tmp_path: Path
) -> None:
    growing = tmp_path / "growing.pgp"
    blocks = [os.urandom(GROWING_MIN_BYTES // 2 + n) for n in range(6)]  # 3 blocks: sent while growing
    finished = threading.Event()
    streamed: list[int] = []

    def stream() -> None:
        streamed.append(client.upload_growing(growing, document_id=DOC, part="document",
                                              request_id=REQ, finished=finished))

    streamer = threading.Thread(target=stream)
    streamer.start()
    with growing.open("wb") as out:
        for block in blocks[:3]:
            out.write(block)
            out.flush()
        # the server has bytes while the file is still being written
        pause = threading.Event()
        for _ in range(500):  # polled with a deadline of about 5 s
            state = client.upload_state(DOC, "document")
            if state is not None and state.offset > 0:
                break
            pause.wait(0.01)
        assert state is not None and state.offset > 0 and state.length is None
        for block in blocks[3:]:
            out.write(block)
    finished.set()
    streamer.join(timeout=30)
    size = growing.stat().st_size
    assert streamed == [size]
    # every byte is there, but without a declared length the upload is not complete
    head = tus(testbed_platform, "HEAD", f"/v1/uploads/{DOC}.document")
    assert head.headers["Upload-Defer-Length"] == "1" and "Upload-Length" not in head.headers
    assert not (testbed_platform.data_dir / "documents" / f"{DOC}.pgp").exists()
    client.upload(growing, document_id=DOC, part="document", request_id=REQ)
    assert stored(testbed_platform, f"{DOC}.pgp") == growing.read_bytes()
    assert testbed_platform.stats.patch_bytes == size  # nothing sent twice


def test_a_deferred_length_is_declared_once_and_never_below_the_offset(
    testbed_platform: TestbedPlatform,
) -> None:
    meta = "document_id ZG9jLTAwMDAwMDAx,part ZG9jdW1lbnQ=,request_id cmVxLTAwMDAwMDAx"
    assert tus(testbed_platform, "POST", "/v1/uploads", **{"Upload-Metadata": meta}).status_code == 400
    created = tus(testbed_platform, "POST", "/v1/uploads",
                  **{"Upload-Defer-Length": "1", "Upload-Metadata": meta})
    assert created.status_code == 201 and created.headers["Upload-Defer-Length"] == "1"
    location = created.headers["Location"]

    def patch(offset: int, data: bytes, **headers: str) -> requests.Response:
        return requests.patch(
            testbed_platform.url + location, data=data, verify=str(testbed_platform.ca_file),
            timeout=10, headers={"Authorization": f"Bearer {testbed_platform.token}",
                                 "Tus-Resumable": "1.0.0", "Upload-Offset": str(offset),
                                 "Content-Type": "application/offset+octet-stream", **headers})

    assert patch(0, b"x" * 10).headers["Upload-Offset"] == "10"
    assert patch(10, b"", **{"Upload-Length": "5"}).status_code == 400  # below what it holds
    done = patch(10, b"y" * 2, **{"Upload-Length": "12"})
    assert done.status_code == 204 and done.headers["Upload-Length"] == "12"
    assert stored(testbed_platform, "doc-00000001.pgp") == b"x" * 10 + b"y" * 2
    assert tus(testbed_platform, "HEAD", location).headers["Upload-Length"] == "12"


def test_termination_discards_an_upload_so_another_ciphertext_never_splices(
    testbed_platform: TestbedPlatform, client: PlatformClient, payload: Path, tmp_path: Path
) -> None:
    cancel = threading.Event()
    with pytest.raises(UploadCancelled):
        client.upload(payload, document_id=DOC, part="document", request_id=REQ, cancel=cancel,
                      progress=lambda done, total: cancel.set() if done > 1024 * 1024 else None)
    state = client.upload_state(DOC, "document")
    assert state is not None and 0 < state.offset < state.length  # type: ignore[operator]
    client.terminate(DOC, "document")
    assert client.upload_state(DOC, "document") is None
    client.terminate(DOC, "document")  # gone already: fine
    other = tmp_path / "other.pgp"
    other.write_bytes(os.urandom(payload.stat().st_size))
    client.upload(other, document_id=DOC, part="document", request_id=REQ)
    assert stored(testbed_platform, f"{DOC}.pgp") == other.read_bytes()
    finished = client.upload_state(DOC, "document")
    assert finished is not None and finished.complete
    # a finished upload can be discarded too: its stored part and size record go with it
    client.terminate(DOC, "document")
    assert not (testbed_platform.data_dir / "documents" / f"{DOC}.pgp").exists()
    assert not (testbed_platform.data_dir / "documents" / f"{DOC}.json").exists()
    assert client.upload_state(DOC, "document") is None
