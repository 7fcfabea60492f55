"""Fixtures of the platform tests: a fresh testbed platform per test (it starts in
milliseconds) and a client with test-speed retries."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from practice_client.platform.api import PlatformClient
from practice_client.testbed.platform import TestbedPlatform
from tests.support.platform import fast_client, testbed_platform  # noqa: F401


@pytest.fixture
def client(testbed_platform: TestbedPlatform) -> Iterator[PlatformClient]:  # noqa: F811
    with fast_client(testbed_platform) as platform_client:
        yield platform_client
