"""Fixtures of the shares tests: a real clamd (started once per session on a unix socket),
and the delivery tests' world (testbed platform, identity authority, patients)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest

from practice_client.testbed.clamd import RunningClamd, clamd_binary, start_clamd
from tests.conftest import require, short_tmpdir
from tests.delivery.conftest import client, world  # noqa: F401 - fixtures shared with the delivery tests


@pytest.fixture(scope="session")
def clamd() -> Iterator[RunningClamd]:
    require(clamd_binary() is not None, "clamd (Debian clamav-daemon: scripts/install-system-packages)")
    root = short_tmpdir("pcv")
    try:
        with start_clamd(root) as running:
            yield running
    finally:
        shutil.rmtree(root, ignore_errors=True)
