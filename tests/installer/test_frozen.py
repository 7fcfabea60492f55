"""The frozen bundle (`make dist`) runs on its own: no source tree, no virtualenv.

Its programs run with a scrubbed environment (no PYTHONPATH, no venv on PATH) so that a
module PyInstaller missed fails here instead of on a practice PC.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

from practice_client import __version__
from tests.installer.conftest import ROOT

USED_QT = {"QtCore", "QtGui", "QtWidgets", "QtSvg", "QtNetwork", "QtDBus"}


def frozen_env(home: Path | None = None) -> dict[str, str]:
    """The test's keyring session and policy, nothing of the development environment."""
    keep = ("DBUS_SESSION_BUS_ADDRESS", "XDG_RUNTIME_DIR", "XDG_DATA_HOME", "HOME", "LANG",
            "PRACTICE_CLIENT_POLICY", "CI")
    env = {k: os.environ[k] for k in keep if k in os.environ}
    env.update(PATH="/usr/local/bin:/usr/bin:/bin", QT_QPA_PLATFORM="offscreen")
    if home is not None:
        env["PRACTICE_CLIENT_HOME"] = str(home)
    return env


def run_frozen(program: Path, *args: str, home: Path | None = None,
               timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(program), *args], capture_output=True, text=True, timeout=timeout,
                          env=frozen_env(home), cwd=program.parent)


def test_both_executables_report_the_version(bundle: Path) -> None:
    for name in ("practice-client", "practice-client-gui"):
        result = run_frozen(bundle / name, "--version")
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == f"practice-client {__version__}"


def test_bundle_holds_only_the_qt_modules_the_app_uses_and_the_resources(bundle: Path) -> None:
    internal = bundle / "_internal"
    qt_modules = {p.name.split(".")[0] for p in (internal / "PySide6").glob("Qt*.so")}
    assert {"QtCore", "QtGui", "QtWidgets", "QtSvg"} <= qt_modules <= USED_QT
    imported = {m for path in (ROOT / "practice_client").rglob("*.py")
                for m in re.findall(r"PySide6\.(Qt\w+)", path.read_text(encoding="utf-8"))}
    assert imported <= qt_modules, "the spec excludes a Qt module the app imports"
    assert not list(internal.rglob("*Qt6Qml*")) and not list(internal.rglob("*Qt6Quick*"))
    icons = internal / "resources" / "icons"
    assert (icons / "practice-client.svg").is_file() and (icons / "practice-client.png").is_file()
    for module in ("uvicorn", "starlette", "dnslib"):  # the testbed the demo starts
        assert list(internal.rglob(f"{module}*")) or _in_archive(bundle, module), module


def _in_archive(bundle: Path, module: str) -> bool:
    """Pure-Python modules live inside the executable's PYZ archive, not as files."""
    return module.encode() in (bundle / "practice-client").read_bytes()


def test_frozen_gui_renders_offscreen(bundle: Path, client_home: Path) -> None:
    """Qt's offscreen platform plugin, fonts and the SVG icon engine are in the bundle."""
    shot = client_home / "shot.png"
    result = run_frozen(bundle / "practice-client", "gui", "--screenshot", str(shot), home=client_home)
    assert result.returncode == 0, result.stderr
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 10_000


def test_frozen_demo_headless_delivers_end_to_end(bundle: Path, client_home: Path) -> None:
    """`practice-client demo --headless` from the bundle: local HTTPS testbed, simulated
    patient, request, delivery - the whole product, frozen."""
    result = run_frozen(bundle / "practice-client", "demo", "--headless", home=client_home, timeout=300)
    assert result.returncode == 0, f"exit {result.returncode}: {result.stderr[-3000:]}"
    assert "demo succeeded" in result.stdout, result.stdout[-3000:]


def test_frozen_diagnostics_and_outlook_reader_are_in_the_bundle(bundle: Path, client_home: Path) -> None:
    """The support export (gpg, Qt's version, the log handler) and the .msg reader (extract-msg,
    olefile) run frozen: a missing module would be an internal error here."""
    import json
    import zipfile

    target = client_home / "diagnostics.zip"
    result = run_frozen(bundle / "practice-client", "--debug", "diagnostics", "export", str(target),
                        home=client_home)
    assert result.returncode == 0, result.stderr
    summary = json.loads(zipfile.ZipFile(target).read("summary.json"))
    assert summary["versions"]["qt"].startswith("PySide6") and summary["versions"]["frozen"] == "True"
    broken = client_home / "broken.msg"
    broken.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 600)
    result = run_frozen(bundle / "practice-client", "request", "verify", str(broken), home=client_home)
    assert result.returncode == 1 and "Outlook" in result.stderr and "internal error" not in result.stderr
