"""The command line as users and scripts call it: ``practice-client ARGS`` in a fresh process."""

from __future__ import annotations

import os
import subprocess
import sys


def run_cli(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``practice-client ARGS`` with this process's environment; output as text."""
    return subprocess.run(
        [sys.executable, "-m", "practice_client", *args],
        input=stdin, capture_output=True, text=True, timeout=120, env=os.environ.copy(),
    )
