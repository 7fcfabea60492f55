"""The testbed platform for any test: real HTTPS on loopback with its own CA and token.

Use it from another test package with
``from tests.support.platform import testbed_platform  # noqa: F401`` (the fixture),
or call :func:`start_platform` / :func:`fast_client` directly (e.g. in a
module-scoped fixture of your own).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from practice_client.platform.api import PlatformClient
from practice_client.platform.http import RetryPolicy, Timeouts
from practice_client.testbed.platform import TestbedPlatform
from tests.conftest import short_tmpdir

# Tests must not wait for production backoff: same algorithm, millisecond delays.
FAST_RETRY = RetryPolicy(attempts=6, base_delay=0.01, max_delay=0.05)


@contextmanager
def start_platform(data_dir: Path | None = None) -> Iterator[TestbedPlatform]:
    """A running platform on a free port; its data folder is removed afterwards unless
    the caller passed one."""
    own = data_dir is None
    root = short_tmpdir("pcp") if data_dir is None else data_dir
    try:
        with TestbedPlatform(root) as platform:
            yield platform
    finally:
        if own:
            shutil.rmtree(root, ignore_errors=True)


def fast_client(platform: TestbedPlatform, **kwargs: Any) -> PlatformClient:
    """A :class:`PlatformClient` for ``platform`` with test-speed retries."""
    kwargs.setdefault("retry", FAST_RETRY)
    kwargs.setdefault("timeouts", Timeouts(connect=5.0, read=10.0))
    return PlatformClient(platform.url, platform.token, ca_file=platform.ca_file, **kwargs)


@pytest.fixture
def testbed_platform() -> Iterator[TestbedPlatform]:
    """A fresh platform (own data folder, CA and token) for one test."""
    with start_platform() as platform:
        yield platform
