"""The installers' files and the macOS postinstall run against a stand-in root."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from practice_client.core import policy

ROOT = Path(__file__).resolve().parents[2]
INSTALLER = ROOT / "installer"
MACOS = INSTALLER / "macos"
LINUX = INSTALLER / "linux"


@pytest.fixture
def mac_root(tmp_path: Path) -> Path:
    """A stand-in target volume holding what the pkg's payload installs."""
    root = tmp_path / "volume"
    support = root / "Library" / "Application Support" / "PracticeClient"
    support.mkdir(parents=True)
    shutil.copy(MACOS / "de.practiceclient.agent.plist", support)
    shutil.copy(MACOS / "de.practiceclient.service.plist", support)
    return root


def postinstall(pkg_dir: Path, root: Path) -> subprocess.CompletedProcess[str]:
    pkg_dir.mkdir(exist_ok=True)
    return subprocess.run(
        ["bash", str(MACOS / "scripts" / "postinstall"), str(pkg_dir / "practice-client.pkg"), "/", str(root)],
        capture_output=True, text=True, timeout=60,
    )


def read_policy_at(root: Path) -> policy.Policy | None:
    return policy.read_macos_managed(root / "no-profile", root / "Library" / "Preferences")
