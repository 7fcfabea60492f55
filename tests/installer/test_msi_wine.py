"""Install the MSI for real (Wine's msiexec) and read the registry the client would read.

A smoke test: Wine's installer is more lenient than Windows', so this proves the property ->
registry -> policy path, remembered values on upgrade and a clean uninstall. The upgrade story
uses MSIs built from the same .wxs with a tiny stand-in bundle (two builds of the real one
would only add time); the real MSI of `make dist` is installed and removed once.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from practice_client.core import policy
from tests.conftest import require, short_tmpdir
from tests.installer.conftest import build_msi, harvest

RUN_KEY = r"HKLM\Software\Microsoft\Windows\CurrentVersion\Run"
UNINSTALL_KEY = r"HKLM\Software\Microsoft\Windows\CurrentVersion\Uninstall"
POLICY_KEY = "HKLM\\" + policy.WINDOWS_POLICY_KEY


def wine(env: dict[str, str], *args: str, check: bool = True) -> int:
    """Run a Windows program. Output goes to a file, not a pipe: wineserver and its helper
    processes inherit the descriptors and would hold a pipe open for seconds after the end."""
    with tempfile.TemporaryFile() as output:
        code = subprocess.run(
            ["wine", *args], env=env, stdin=subprocess.DEVNULL, stdout=output, stderr=output,
            timeout=180,
        ).returncode
        output.seek(0)
        if check:
            assert code == 0, (args, output.read()[-2000:])
    return code


def windows_path(path: Path) -> str:
    return "Z:" + str(path).replace("/", "\\")


def reg_values(env: dict[str, str], key: str, scratch: Path) -> dict[str, dict[str, str]] | None:
    """All string values below ``key`` ({subkey: {name: value}}), or None if it is missing."""
    out = scratch / "export.reg"
    if wine(env, "reg", "export", key, windows_path(out), "/y", check=False) != 0:
        return None
    found: dict[str, dict[str, str]] = {}
    current: dict[str, str] = {}
    for line in out.read_text(encoding="utf-16").splitlines():
        if line.startswith("["):
            current = found.setdefault(line.strip("[]"), {})
        elif m := re.fullmatch(r'"((?:[^"\\]|\\.)*)"="((?:[^"\\]|\\.)*)"', line):
            current[m[1]] = re.sub(r"\\(.)", r"\1", m[2])
    return found


WORKSTATION = "ADDLOCAL=Main,Arbeitsplatz"  # a workstation: the app, not the practice service


@pytest.fixture(scope="module")
def wine_env() -> Iterator[dict[str, str]]:
    require(shutil.which("wine") is not None, "wine (apt-get install wine wine64)")
    prefix = short_tmpdir("pcwine")
    env = dict(os.environ, WINEPREFIX=str(prefix), WINEDEBUG="-all", WINEDLLOVERRIDES="mscoree,mshtml=")
    env.pop("DISPLAY", None)
    wine(env, "wineboot", "--init")
    yield env
    subprocess.run(["wineserver", "-k"], env=env, check=False, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, timeout=60)
    shutil.rmtree(prefix, ignore_errors=True)


def test_silent_install_writes_policy_upgrade_keeps_it_uninstall_removes_it(
    wine_env: dict[str, str], fake_bundle: Path, tmp_path: Path
) -> None:
    program_dir = Path(wine_env["WINEPREFIX"]) / "drive_c" / "Program Files" / "Practice Client"
    first = build_msi(fake_bundle, tmp_path / "v1", version="1.0.0")
    pins = "A" * 43 + "=," + "B" * 43 + "="
    # Wine starts no service from a stand-in executable: a workstation's install with the
    # autostart (Wine ignores REMOVE= on a first install, so the features are named; with
    # them INSTALLLEVEL, which AUTOSTART_AGENT=1 raises, is not used - test_msi.py reads
    # that and the service's tables back).
    features = f"{WORKSTATION},Autostart"
    properties = (features, "SERVER_URL=https://x.test", r"EXPORT_DIR=D:\PVS\export", f"SPKI_PINS={pins}",
                  "DNS_SERVER=10.0.0.53:53", r"CA_FILE=C:\ProgramData\Praxis\ca.pem", "LOCK_SETTINGS=1",
                  "AUTOSTART_AGENT=1")

    # A fresh Wine prefix claims to be Windows 7: the launch condition refuses it.
    wine(wine_env, "winecfg", "-v", "win7")
    assert wine(wine_env, "msiexec", "/i", windows_path(first), "/qn", *properties, check=False) != 0
    assert reg_values(wine_env, POLICY_KEY, tmp_path) is None and not program_dir.exists()

    wine(wine_env, "winecfg", "-v", "win10")
    wine(wine_env, "msiexec", "/i", windows_path(first), "/qn", *properties)

    raw = reg_values(wine_env, POLICY_KEY, tmp_path)
    assert raw is not None
    installed = policy.policy_from_mapping(next(iter(raw.values())), POLICY_KEY)
    assert installed.values == {"server_url": "https://x.test", "export_dir": r"D:\PVS\export",
                                "spki_pins": pins, "dns_server": "10.0.0.53:53",
                                "ca_file": r"C:\ProgramData\Praxis\ca.pem"}
    assert installed.locked == set(installed.values)
    run = reg_values(wine_env, RUN_KEY, tmp_path) or {}
    assert any("practice-client-gui.exe\" agent" in v.get("PracticeClientAgent", "") for v in run.values())
    assert (program_dir / "practice-client-gui.exe").read_bytes() == b"MZ stand-in"
    assert not (program_dir / "practice-client.exe").exists()  # the service's executable: Praxis-Server
    assert (program_dir / "_internal" / "resources" / "README.txt").is_file()

    # An update without properties keeps what the admin set; a new property is added.
    second = build_msi(fake_bundle, tmp_path / "v2", version="1.0.1")
    # (the same features named again: Windows keeps them by MigrateFeatureStates, Wine does not)
    wine(wine_env, "msiexec", "/i", windows_path(second), "/qn", features, "PRACTICE_ID=praxis-7")
    raw = reg_values(wine_env, POLICY_KEY, tmp_path)
    assert raw is not None
    upgraded = policy.policy_from_mapping(next(iter(raw.values())), POLICY_KEY)
    assert upgraded.values == {**installed.values, "practice_id": "praxis-7"}
    assert upgraded.locked == set(upgraded.values)
    products = [
        v for v in (reg_values(wine_env, UNINSTALL_KEY, tmp_path) or {}).values()
        if v.get("DisplayName") == "Practice Client"
    ]
    assert [p["DisplayVersion"] for p in products] == ["1.0.1"]  # the old version is gone
    run = reg_values(wine_env, RUN_KEY, tmp_path) or {}
    assert any("PracticeClientAgent" in v for v in run.values())  # autostart remembered too

    wine(wine_env, "msiexec", "/x", windows_path(second), "/qn")
    assert reg_values(wine_env, POLICY_KEY, tmp_path) is None
    assert not any("PracticeClientAgent" in v for v in (reg_values(wine_env, RUN_KEY, tmp_path) or {}).values())
    assert not program_dir.exists()


def test_the_real_msi_installs_every_bundle_file_and_uninstalls_cleanly(
    wine_env: dict[str, str], msi: Path, bundle: Path, tmp_path: Path
) -> None:
    program_dir = Path(wine_env["WINEPREFIX"]) / "drive_c" / "Program Files" / "Practice Client"
    wine(wine_env, "winecfg", "-v", "win10")
    wine(wine_env, "msiexec", "/i", windows_path(msi), "/qn", WORKSTATION, "PRACTICE_ID=praxis-9")
    try:
        expected = {str(p) for p in harvest.bundle_files(bundle)} - {str(harvest.service_exe(bundle))}
        installed = {p.relative_to(program_dir).as_posix() for p in program_dir.rglob("*") if p.is_file()}
        assert installed == expected
        gui = "practice-client-gui"
        assert (program_dir / gui).read_bytes() == (bundle / gui).read_bytes()
        raw = reg_values(wine_env, POLICY_KEY, tmp_path)
        assert raw is not None
        assert policy.policy_from_mapping(next(iter(raw.values())), POLICY_KEY).values == {"practice_id": "praxis-9"}
    finally:
        wine(wine_env, "msiexec", "/x", windows_path(msi), "/qn")
    assert not program_dir.exists() and reg_values(wine_env, POLICY_KEY, tmp_path) is None
