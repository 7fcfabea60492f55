"""``make demo`` ends with the patient sharing a document and the practice receiving it
into the PMS import folder (ClamAV scanning it where ClamAV is installed)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from practice_client.testbed.clamd import clamd_binary
from tests.conftest import require
from tests.support.worlds import keyring_ok

pytestmark = pytest.mark.slow


def test_the_demo_ends_with_a_shared_document_in_the_pms_import_folder() -> None:
    keyring_ok()
    require(clamd_binary() is not None, "clamd (Debian clamav-daemon)")
    env = {k: v for k, v in os.environ.items() if k != "PRACTICE_CLIENT_HOME"}
    result = subprocess.run([sys.executable, "-m", "practice_client", "demo", "--headless"],  # noqa: S603
                            env=env, capture_output=True, timeout=300, check=False)
    out = result.stdout.decode("utf-8")
    assert result.returncode == 0, out + result.stderr.decode("utf-8", "replace")
    last = out.strip().splitlines()[-3:]
    assert "the patient shares a document with the practice" in last[0]
    assert "ClamAV scan) and handed to the PMS" in last[1] and ".gdt" in last[1]
