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
from tests.support.service import credentials_dir  # noqa: F401 - the fixture: a real systemd credential

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


def bundled_modules(bundle: Path) -> set[str]:
    """Every Python module of the bundle: the PYZ archives inside both executables (read
    with PyInstaller's own archive reader) and the extension modules beside them."""
    from PyInstaller.archive.readers import PKG_ITEM_PYZ, CArchiveReader, ZlibArchiveReader

    names: set[str] = set()
    for program in ("practice-client", "practice-client-gui"):
        archive = CArchiveReader(str(bundle / program))
        for name, entry in archive.toc.items():
            if entry[-1] == PKG_ITEM_PYZ:
                names |= set(archive.open_embedded_archive(name).toc)
    for pyz in bundle.rglob("*.pyz"):
        names |= set(ZlibArchiveReader(str(pyz)).toc)
    internal = bundle / "_internal"
    names |= {".".join(p.relative_to(internal).with_suffix("").with_suffix("").parts)
              for p in internal.rglob("*.so")}
    return names


def test_the_product_holds_no_test_server(bundle: Path) -> None:
    """The testbed (the reference platform, a DNS server, a simulated patient) and the demo
    are not in what a practice installs; the client's own network stack is, and so is the
    practice service's server stack (uvicorn, Starlette, its protocols) and its pairing."""
    modules = bundled_modules(bundle)
    assert {"practice_client.cli", "practice_client.platform.proxy", "truststore", "pypac", "spnego"} <= modules
    assert {"practice_client.service.api", "practice_client.service.daemon", "uvicorn", "starlette",
            "uvicorn.protocols.http.h11_impl", "uvicorn.loops.asyncio", "spake2"} <= modules
    for server in ("practice_client.testbed", "practice_client.demo", "dnslib", "keyrings"):
        found = sorted(m for m in modules if m == server or m.startswith(server + "."))
        assert not found, found
    dists = {p.name.split("-")[0].lower() for p in (bundle / "_internal").glob("*.dist-info")}
    assert not dists & {"dnslib"}, dists


def test_the_demo_and_testbed_commands_say_where_they_run(bundle: Path, client_home: Path) -> None:
    for command in (["demo", "--headless"], ["testbed", "platform", "--data", str(client_home)]):
        result = run_frozen(bundle / "practice-client", *command, home=client_home)
        assert result.returncode == 2, result.stderr
        assert result.stderr.count("\n") == 1 and "source checkout (make demo)" in result.stderr


def test_frozen_gui_renders_offscreen(bundle: Path, client_home: Path) -> None:
    """Qt's offscreen platform plugin, fonts and the SVG icon engine are in the bundle."""
    shot = client_home / "shot.png"
    result = run_frozen(bundle / "practice-client", "gui", "--screenshot", str(shot), home=client_home)
    assert result.returncode == 0, result.stderr
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 10_000


def test_frozen_client_sets_up_against_a_real_https_platform(bundle: Path, client_home: Path,
                                                              ident_key: Path) -> None:
    """The frozen client's network stack (truststore, the route, pins) against the source
    testbed over real HTTPS: setup registers the practice key with the platform."""
    from tests.support.platform import start_platform

    with start_platform() as platform:
        result = subprocess.run(
            [str(bundle / "practice-client"), "setup", "--server", platform.url, "--practice-id", "praxis-frozen",
             "--platform-domain", "platform.test", "--ident-key", str(ident_key), "--ca-file", str(platform.ca_file),
             "--token-stdin"],
            input=platform.token, capture_output=True, text=True, timeout=300,
            env=frozen_env(client_home), cwd=bundle,
        )
        assert result.returncode == 0, f"exit {result.returncode}: {result.stderr[-3000:]}"
        assert "BEGIN PGP PUBLIC KEY BLOCK" in (platform.data_dir / "practice" / "key.asc").read_text()


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


def test_the_bundle_runs_the_practice_service(bundle: Path, tmp_path: Path, credentials_dir: Path) -> None:  # noqa: F811
    """The installed program is the service (what the unit, the LaunchDaemon and the Windows
    service start): it listens with its own certificate and pairs a workstation, stops
    cleanly on SIGTERM; ``--windows-service`` off Windows says so in one line."""
    import json
    import signal

    from tests.support.waiting import wait_for

    home = tmp_path / "service"
    env = dict(frozen_env(), CREDENTIALS_DIRECTORY=str(credentials_dir))
    process = subprocess.Popen([str(bundle / "practice-client"), "service", "run", "--home", str(home),
                                "--listen", "127.0.0.1:0"], env=env, cwd=bundle, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True)
    try:
        endpoint = home / "service" / "endpoint.json"
        wait_for(lambda: endpoint.exists() or process.poll() is not None, 120, "the frozen service")
        assert process.poll() is None, process.stderr.read() if process.stderr else ""
        port = json.loads(endpoint.read_text())["port"]
        from practice_client.core.paths import Home
        from practice_client.service.control import control
        from practice_client.service.pairing import pair_with_service

        code = control(Home(home), "POST", "/v1/control/pair", {"role": "staff", "name": "Empfang"})["code"]
        paired = pair_with_service("127.0.0.1", port, code, {"hostname": "ws", "os_user": "mfa"})
        assert paired.name == "Empfang" and paired.pin == json.loads(endpoint.read_text())["pin"]
        process.send_signal(signal.SIGTERM)
        assert process.wait(60) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(30)
    result = run_frozen(bundle / "practice-client", "service", "run", "--windows-service", "--home",
                        str(tmp_path / "other"), "--listen", "127.0.0.1:0")
    assert result.returncode == 1 and "--windows-service: this is not Windows" in result.stderr
