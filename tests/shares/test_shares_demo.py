"""``make demo``: its single-PC act ends with the patient sharing a document and the practice
receiving it into the PMS import folder (ClamAV scanning it where ClamAV is installed); the
practice service's act follows."""

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
    lines = out.strip().splitlines()
    # the single-PC act ends with the share; the practice service's act (issue 16) follows it
    shared = next(i for i, line in enumerate(lines) if "the patient shares a document with the practice" in line)
    assert "ClamAV scan) and handed to the PMS" in lines[shared + 1] and ".gdt" in lines[shared + 1]
    assert "the practice service adopts the home" in lines[shared + 2]
    assert lines[-1] == "Demo erfolgreich / demo succeeded"
