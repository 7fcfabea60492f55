"""``make demo`` ends with the patient sharing a document and the practice service receiving
it into the PMS import folder (ClamAV scanning it where ClamAV is installed; without a
scanner the demo says so plainly and the share is held), both workstations seeing it."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from practice_client.testbed.clamd import clamd_binary
from tests.conftest import require
from tests.support.worlds import keyring_ok

pytestmark = pytest.mark.slow

SHARED = "the patient shares a document with the practice"
AT_BOTH = "both workstations (Empfang, Sprechzimmer 1), connected again, show the shared document on their Eingang"


def _numbered(lines: list[str]) -> list[int]:
    """The indexes of the numbered steps' lines."""
    return [i for i, line in enumerate(lines) if re.match(r"\d+\. ", line)]


def _after_the_service_act(lines: list[str]) -> int:
    """The share's first step: after every step of the practice service's act."""
    shared = next(i for i, line in enumerate(lines) if SHARED in line)
    for words in ("the practice service adopts the home", "new request at both workstations",
                  "the practice service delivered with no workstation"):
        assert next(i for i, line in enumerate(lines) if words in line) < shared, words
    assert "file name visible on the server" in lines[_numbered(lines)[_numbered(lines).index(shared) - 1]]
    return shared


def test_the_demo_ends_with_a_shared_document_in_the_pms_import_folder() -> None:
    keyring_ok()
    require(clamd_binary() is not None, "clamd (Debian clamav-daemon)")
    env = {k: v for k, v in os.environ.items() if k != "PRACTICE_CLIENT_HOME"}
    result = subprocess.run([sys.executable, "-m", "practice_client", "demo", "--headless"],  # noqa: S603
                            env=env, capture_output=True, timeout=300, check=False)
    out = result.stdout.decode("utf-8")
    assert result.returncode == 0, out + result.stderr.decode("utf-8", "replace")
    lines = out.strip().splitlines()
    shared = _after_the_service_act(lines)
    steps = [lines[i] for i in _numbered(lines) if i >= shared]
    assert len(steps) == 5, steps
    assert "ClamAV scan) and handed to the PMS" in steps[1]
    assert AT_BOTH in steps[2] and "per the PMS Erika Mustermann, Patient 1001" in steps[2], steps[2]
    assert steps[2].endswith("handed to the PMS")
    assert "in the PMS import folder: 1001_" in steps[3] and ".gdt" in steps[3]
    record = lines[lines.index(steps[3]) + 1:lines.index(steps[4])]  # read back by core.gdt, field by field
    for field in ("   8000 6310", "   3000 1001", "   3101 Mustermann", "   3102 Erika", "   3103 12081964"):
        assert field in record, (field, record)
    # the last step: the receipt the platform recorded; then the demo's verdict
    assert "receipt sent to the platform: angenommen / accepted" in steps[4]
    assert lines[-2] == steps[4] and lines[-1] == "Demo erfolgreich / demo succeeded"


def test_without_a_scanner_the_demo_says_so_and_holds_the_share(monkeypatch: pytest.MonkeyPatch) -> None:
    """A machine without ClamAV (its detection answers "none here"): the share is held,
    visibly - at both workstations too - and nothing reaches the PMS."""
    from practice_client.demo import run_headless
    from practice_client.demo_service import run_service_act
    from practice_client.testbed import clamd

    keyring_ok()
    monkeypatch.setattr(clamd, "clamd_binary", lambda: None)
    lines: list[str] = []
    assert run_headless(lines.append, second_act=run_service_act) == 0, "\n".join(lines)
    shared = _after_the_service_act(lines)
    steps = [lines[i] for i in _numbered(lines) if i >= shared]
    assert len(steps) == 3, steps
    assert "KEIN VIRENSCANNER / NO VIRUS SCANNER" in steps[1] and "the shared document is held" in steps[1]
    assert AT_BOTH in steps[2] and steps[2].endswith("zurückgehalten / held"), steps[2]
    assert not any("import folder" in line or "receipt" in line for line in lines[shared:])
    assert lines[-2] == steps[2] and lines[-1] == "Demo erfolgreich / demo succeeded"
