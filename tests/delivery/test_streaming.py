"""Before a streamed encryption: what the platform holds of an earlier attempt is adopted
only when it is exactly the complete spooled ciphertext for the same recipients, and
discarded otherwise (real testbed over HTTPS, real files)."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from practice_client.core.errors import NetworkError
from practice_client.core.platform import PlatformClient, UploadCancelled
from practice_client.delivery.outbox import CIPHERTEXT
from practice_client.delivery.streaming import MARKER, DocumentStream, Plan
from practice_client.testbed.platform import TestbedPlatform
from tests.fixtures_platform import fast_client, start_platform

DOC = "0b4f7c1e-2d3a-4c5b-8e9f-a1b2c3d4e5f6"
REQ = "req-00000042"
RECIPIENTS = ["A" * 40, "B" * 40]


@pytest.fixture(scope="module")
def platform() -> Iterator[TestbedPlatform]:
    with start_platform() as started:
        yield started


@pytest.fixture
def client(platform: TestbedPlatform) -> Iterator[PlatformClient]:
    with fast_client(platform) as platform_client:
        yield platform_client
        platform_client.terminate(DOC, "document")  # the next test starts clean


@pytest.fixture
def spool(tmp_path: Path) -> Path:
    (tmp_path / CIPHERTEXT).write_bytes(os.urandom(2 * 1024 * 1024 + 3))
    return tmp_path


def stream(client: PlatformClient) -> DocumentStream:
    return DocumentStream(client, DOC, REQ, threading.Event())


def streamed_before(spool: Path, recipients: list[str]) -> None:
    (spool / MARKER).write_text(json.dumps({"recipients": recipients}))


def test_first_attempt_streams_and_leaves_the_marker(client: PlatformClient, spool: Path) -> None:
    assert stream(client).prepare(spool, RECIPIENTS) is Plan.STREAM
    assert json.loads((spool / MARKER).read_text()) == {"recipients": RECIPIENTS}


def test_the_complete_spooled_ciphertext_on_the_platform_is_adopted(
    client: PlatformClient, spool: Path
) -> None:
    client.upload(spool / CIPHERTEXT, document_id=DOC, part="document", request_id=REQ)
    streamed_before(spool, RECIPIENTS)
    assert stream(client).prepare(spool, RECIPIENTS) is Plan.ADOPT
    assert client.upload_state(DOC, "document") is not None  # kept


@pytest.mark.parametrize("case", ["partial", "other_length", "other_recipients", "no_marker"])
def test_anything_else_the_platform_holds_is_discarded_before_encrypting(
    client: PlatformClient, spool: Path, tmp_path: Path, case: str
) -> None:
    ciphertext = spool / CIPHERTEXT
    if case == "partial":  # gpg had not finished: the server has a prefix of a lost file
        cancel = threading.Event()
        with pytest.raises(UploadCancelled):
            client.upload(ciphertext, document_id=DOC, part="document", request_id=REQ, cancel=cancel,
                          progress=lambda done, total: cancel.set() if done > 1024 * 1024 else None)
    elif case == "other_length":
        other = tmp_path / "other.pgp"
        other.write_bytes(os.urandom(ciphertext.stat().st_size + 1))
        client.upload(other, document_id=DOC, part="document", request_id=REQ)
    else:
        client.upload(ciphertext, document_id=DOC, part="document", request_id=REQ)
    if case != "no_marker":
        streamed_before(spool, RECIPIENTS if case != "other_recipients" else RECIPIENTS[:1])
    assert stream(client).prepare(spool, RECIPIENTS) is Plan.STREAM
    assert client.upload_state(DOC, "document") is None


def test_unreachable_after_a_streamed_attempt_waits_but_a_first_attempt_encrypts(
    platform: TestbedPlatform, spool: Path
) -> None:
    with fast_client(platform) as reachable:
        offline = PlatformClient("https://127.0.0.1:9/", "token", ca_file=platform.ca_file,
                                 retry=reachable.retry, timeouts=reachable.timeouts)
    with offline:
        assert stream(offline).prepare(spool, RECIPIENTS) is Plan.PLAIN
        assert not (spool / MARKER).exists()
        streamed_before(spool, RECIPIENTS)
        with pytest.raises(NetworkError):
            stream(offline).prepare(spool, RECIPIENTS)
