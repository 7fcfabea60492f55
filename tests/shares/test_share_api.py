"""The shares part of the platform API over real HTTPS: listing pages and cursor, streamed
downloads bounded by the limit and resumed with Range after a cut, receipts idempotent,
ids that could reach outside their folder refused."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from practice_client.core.errors import NetworkError, PlatformRefused
from practice_client.platform.http import AnswerTooLarge, Timeouts
from practice_client.testbed.platform import TestbedPlatform
from practice_client.testbed.shares import ShareStore
from tests.support.platform import fast_client, testbed_platform  # noqa: F401 - fixture


def test_listing_pages_with_a_cursor(testbed_platform: TestbedPlatform) -> None:  # noqa: F811
    store = ShareStore(testbed_platform.data_dir)
    ids = [store.publish(os.urandom(10 + n), b"m" * n) for n in range(3)]
    with fast_client(testbed_platform) as api:
        listed, cursor = api.shares(None)
        assert [(s.share_id, s.size, s.manifest_size) for s in listed] == [
            (i, 10 + n, n) for n, i in enumerate(ids)]
        assert api.shares(cursor) == ([], cursor)
        later = store.publish(b"x" * 5, b"y")
        assert [s.share_id for s in api.shares(cursor)[0]] == [later]


def test_a_cut_download_resumes_with_range(testbed_platform: TestbedPlatform, tmp_path: Path) -> None:  # noqa: F811
    data = os.urandom(5 * 1024 * 1024)
    share_id = ShareStore(testbed_platform.data_dir).publish(data, b"manifest")
    testbed_platform.faults.stall_next_downloads(after_bytes=1024 * 1024, seconds=20)
    with fast_client(testbed_platform, timeouts=Timeouts(connect=5.0, read=1.0, bytes_per_second=1e12)) as api:
        api.download_share(share_id, "document", tmp_path / "share.pgp", len(data), 10 * 1024 * 1024)
    assert (tmp_path / "share.pgp").read_bytes() == data
    assert not (tmp_path / "share.pgp.part").exists()
    assert testbed_platform.stats.calls("share.ranged") == 1  # the rest, not all of it again


def test_downloads_are_bounded(testbed_platform: TestbedPlatform, tmp_path: Path) -> None:  # noqa: F811
    share_id = ShareStore(testbed_platform.data_dir).publish(b"z" * 4096, b"m")
    with fast_client(testbed_platform) as api:
        with pytest.raises(AnswerTooLarge):  # the listing's size is over the limit: nothing fetched
            api.download_share(share_id, "document", tmp_path / "a", 4096, 1024)
        calls = testbed_platform.stats.calls("share")
        with pytest.raises(AnswerTooLarge):  # the platform sends more than it listed
            api.download_share(share_id, "document", tmp_path / "b", 100, 1024)
        assert testbed_platform.stats.calls("share") == calls + 1
        assert not (tmp_path / "b").exists()
        with pytest.raises(PlatformRefused, match="404"):
            api.download_share("0" * 36, "document", tmp_path / "c", 1, 1024)
        with pytest.raises(ValueError):
            api.download_share("../../token", "document", tmp_path / "d", 1, 1024)


def test_receipts_are_idempotent(testbed_platform: TestbedPlatform) -> None:  # noqa: F811
    store = ShareStore(testbed_platform.data_dir)
    share_id = store.publish(b"d", b"m")
    with fast_client(testbed_platform) as api:
        api.send_share_receipt(share_id, "accepted")
        api.send_share_receipt(share_id, "accepted")
        assert store.receipt_of(share_id) == "accepted"
        with pytest.raises(PlatformRefused, match="409"):
            api.send_share_receipt(share_id, "refused")
        with pytest.raises(PlatformRefused, match="404"):
            api.send_share_receipt("1" * 36, "accepted")


def test_a_cancelled_download_keeps_what_it_has(testbed_platform: TestbedPlatform, tmp_path: Path) -> None:  # noqa: F811
    data = os.urandom(3 * 1024 * 1024)
    share_id = ShareStore(testbed_platform.data_dir).publish(data, b"m")
    cancel = threading.Event()
    cancel.set()
    with fast_client(testbed_platform) as api, pytest.raises(NetworkError):
        api.download_share(share_id, "document", tmp_path / "share.pgp", len(data), len(data), cancel)
    assert not (tmp_path / "share.pgp").exists()
