"""The layer rules of ``.importlinter`` hold for the code, and each one bites.

``make lint`` runs the same check; this test puts it into ``make test`` (and so CI) and
proves, per contract, that a module with a forbidden import breaks it: a contract that
cannot fail would only decorate the build. The attacks run on a copy of the package, so
the real tree is never touched.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / ".importlinter"
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def lint_imports(package_parent: Path) -> subprocess.CompletedProcess[str]:
    """``lint-imports`` on the package found in ``package_parent`` (first on the path)."""
    env = {**os.environ, "PYTHONPATH": str(package_parent)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--config", str(CONFIG), "--no-cache"],
        cwd=package_parent, env=env, capture_output=True, text=True, timeout=120,
    )


def test_the_code_keeps_every_contract() -> None:
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


# (module to add, its source, the contract that must break)
ATTACKS = [
    ("delivery/zz_attack.py", "from PySide6 import QtWidgets\n", "No Qt below the GUI"),
    ("core/zz_attack.py", "import requests\n", "core does no network"),
    ("core/zz_attack.py", "import ssl\n", "core does no network"),
    ("core/zz_attack.py", "from practice_client.delivery import outbox\n", "Layers"),
    ("intake/zz_attack.py", "from practice_client.delivery import outbox\n", "intake, delivery and shares"),
    ("shares/zz_attack.py", "from practice_client.delivery import events\n", "intake, delivery and shares"),
    ("shares/zz_attack.py", "from practice_client.intake import inbox\n", "intake, delivery and shares"),
    ("shares/zz_attack.py", "from practice_client.service import agent\n", "Layers"),
    ("shares/zz_attack.py", "from PySide6 import QtWidgets\n", "No Qt below the GUI"),
    # the practice service is handed the GUI's DataSource; it never imports the GUI's layer
    ("service/zz_attack.py", "from practice_client.gui import viewmodels\n", "Layers"),
    ("delivery/zz_attack.py", "from practice_client.service import api\n", "Layers"),
    ("gui/zz_attack.py", "from practice_client.testbed import platform\n", "Only the testbed"),
    ("core/zz_attack.py", "from practice_client.core import zz_attack_b\n", "No import cycles"),
]


@pytest.mark.parametrize(("module", "source", "contract"), ATTACKS, ids=[f"{m}:{s.strip()}" for m, s, _ in ATTACKS])
def test_a_forbidden_import_breaks_its_contract(tmp_path: Path, module: str, source: str, contract: str) -> None:
    copy = tmp_path / "practice_client"
    shutil.copytree(ROOT / "practice_client", copy, ignore=shutil.ignore_patterns("__pycache__", "*.json"))
    (copy / module).write_text(source)
    if "zz_attack_b" in source:  # the other half of the cycle
        (copy / "core" / "zz_attack_b.py").write_text("from practice_client.core import zz_attack\n")
    result = lint_imports(tmp_path)
    assert result.returncode != 0, result.stdout
    broken = [line for line in result.stdout.splitlines() if " BROKEN" in line]
    assert any(line.startswith(contract) for line in broken), result.stdout
