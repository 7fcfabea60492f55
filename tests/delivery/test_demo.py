"""``practice-client demo --headless`` (what ``make demo`` runs) succeeds end to end."""

from __future__ import annotations

import os
import re
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
    # the second act: the home adopted by a practice service, two workstations on it
    for words in ("the practice service adopts the home (1 Anfrage(n) / request(s), 1 Dokument(e)",
                  "workstation paired: Empfang (admin)", "workstation paired: Sprechzimmer 1 (staff)",
                  "new request at both workstations", "reception sees it after",
                  "the practice service delivered with no workstation"):
        assert words in out, words
    assert out.count("identisch / identical") == 2
    assert out.count("file name visible on the server: nein / no") == 2
    # one count through both acts: 1, 2, 3, ... with no gap and no number twice
    numbers = [int(m.group(1)) for m in re.finditer(r"^(\d+)\. ", out, re.MULTILINE)]
    assert numbers == list(range(1, len(numbers) + 1)), numbers
