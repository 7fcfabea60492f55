"""Fixtures for the installer tests: the real PyInstaller bundle and the real wixl MSI.

The bundle takes 30-60 s to build, so it is built once per test run (also when
pytest-xdist runs several workers: they share one build through a file lock).
"""

from __future__ import annotations

import fcntl
import importlib.util
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import pytest

from tests.conftest import require
from tests.support.installer import INSTALLER, ROOT, mac_root  # noqa: F401 - mac_root: the fixture


def _load_harvest() -> ModuleType:
    """installer/windows/harvest.py is a script, not a package: load it by path."""
    spec = importlib.util.spec_from_file_location("pc_harvest", INSTALLER / "windows" / "harvest.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


harvest = _load_harvest()


def _shared_dir(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> Path:
    base = tmp_path_factory.getbasetemp()
    return base if worker_id == "master" else base.parent


@pytest.fixture(scope="session")
def worker_id(request: pytest.FixtureRequest) -> str:
    """xdist's worker id, or "master" without xdist."""
    return getattr(request.config, "workerinput", {}).get("workerid", "master")


def _build_once(marker: Path, build: Callable[[], None]) -> None:
    """Run ``build`` unless another worker already did (``marker`` exists)."""
    marker.parent.mkdir(parents=True, exist_ok=True)
    with (marker.parent / (marker.name + ".lock")).open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not marker.exists():
            build()
            marker.write_text("ok")


@pytest.fixture(scope="session")
def bundle(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> Path:
    """dist/practice-client built from installer/practice-client.spec, as `make dist` does."""
    require(importlib.util.find_spec("PyInstaller") is not None, "PyInstaller (pip install -e '.[dist]')")
    shared = _shared_dir(tmp_path_factory, worker_id) / "installer-bundle"
    dist = shared / "dist"

    def build() -> None:
        result = subprocess.run(
            [sys.executable, "-m", "PyInstaller", "--noconfirm", "--log-level", "WARN",
             "--distpath", str(dist), "--workpath", str(shared / "build"),
             str(INSTALLER / "practice-client.spec")],
            cwd=ROOT, capture_output=True, text=True, timeout=900,
        )
        assert result.returncode == 0, result.stderr[-4000:]

    _build_once(shared / "built", build)
    return dist / "practice-client"


def build_msi(bundle_dir: Path, out_dir: Path, version: str | None = None) -> Path:
    """installer/windows/build-msi.sh, exactly as `make dist` runs it."""
    require(shutil.which("wixl") is not None, "wixl (apt-get install wixl)")
    env = dict(os.environ, PYTHON=sys.executable)
    if version:
        env["VERSION"] = version
    result = subprocess.run(
        [str(INSTALLER / "windows" / "build-msi.sh"), str(bundle_dir), str(out_dir)],
        cwd=ROOT, capture_output=True, text=True, timeout=300, env=env,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    assert result.stderr == "", result.stderr[-4000:]  # no warnings slip through
    return Path(result.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="session")
def msi(bundle: Path, tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> Path:
    shared = _shared_dir(tmp_path_factory, worker_id) / "installer-msi"
    found: list[Path] = []
    _build_once(shared / "built", lambda: found.append(build_msi(bundle, shared)))
    return found[0] if found else next(shared.glob("practice-client-*.msi"))


@dataclass
class MsiTable:
    columns: list[str]
    rows: list[dict[str, str]]


def msi_table(msi_path: Path, table: str) -> MsiTable:
    """A table read back with ``msiinfo export`` (header: names, types, key line)."""
    require(shutil.which("msiinfo") is not None, "msiinfo (apt-get install msitools)")
    out = subprocess.run(
        ["msiinfo", "export", str(msi_path), table], capture_output=True, text=True, check=True,
    ).stdout
    lines = out.split("\r\n") if "\r\n" in out else out.splitlines()
    columns = lines[0].split("\t")
    rows = [dict(zip(columns, line.split("\t"), strict=False)) for line in lines[3:] if line]
    return MsiTable(columns, rows)


@pytest.fixture
def fake_bundle(tmp_path: Path) -> Iterator[Path]:
    """A tiny stand-in with the bundle's layout, for fast MSI builds (harvest, Wine)."""
    root = tmp_path / "practice-client"
    (root / "_internal" / "resources").mkdir(parents=True)
    for name in ("practice-client.exe", "practice-client-gui.exe"):
        (root / name).write_bytes(b"MZ stand-in")
    (root / "_internal" / "base_library.zip").write_bytes(b"PK")
    (root / "_internal" / "resources" / "README.txt").write_text("resources\n")
    yield root
