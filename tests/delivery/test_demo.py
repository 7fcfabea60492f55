"""``practice-client demo --headless`` (what ``make demo`` runs) succeeds end to end."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.support.worlds import keyring_ok

pytestmark = pytest.mark.slow


def test_headless_demo_runs_end_to_end() -> None:
    keyring_ok()
    env = {k: v for k, v in os.environ.items() if k != "PRACTICE_CLIENT_HOME"}
    result = subprocess.run(  # noqa: S603
        [sys.executable, "-m", "practice_client", "demo", "--headless"],
        env=env, capture_output=True, timeout=300, check=False,
    )
    out = result.stdout.decode("utf-8")
    assert result.returncode == 0, out + result.stderr.decode("utf-8", "replace")
    for words in ("✓ dkim", "✓ consent_signature", "✓ phone", "gültig / valid",
                  "identisch / identical", "nein / no", "demo succeeded"):
        assert words in out, words
