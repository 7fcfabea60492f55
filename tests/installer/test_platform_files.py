"""macOS and Linux installer files: they parse, they agree with the policy interface, and the
postinstall writes managed defaults the client reads (run here against a stand-in root)."""

from __future__ import annotations

import plistlib
import shutil
import subprocess
from pathlib import Path

import pytest

from practice_client.core import policy
from tests.conftest import require
from tests.support.installer import INSTALLER, LINUX, MACOS, ROOT, postinstall, read_policy_at

POLICY_PROPERTIES = set(policy._ALIASES)


def shell_scripts() -> list[Path]:
    """Every shell script of the installers (found by shebang, so none is forgotten)."""
    found = []
    for path in sorted(INSTALLER.rglob("*")):
        if path.is_file() and path.suffix not in {".py", ".spec", ".ps1"}:
            head = path.read_bytes()[:40]
            if head.startswith(b"#!") and b"sh" in head.split(b"\n")[0]:
                found.append(path)
    return found


def test_shell_scripts_pass_shellcheck() -> None:
    require(shutil.which("shellcheck") is not None, "shellcheck (apt-get install shellcheck)")
    scripts = shell_scripts()
    names = {p.name for p in scripts}
    assert {"postinstall", "preinstall", "build-pkg.sh", "build-msi.sh", "install.sh"} <= names
    result = subprocess.run(["shellcheck", "--severity=style", *map(str, scripts)],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout
    for script in scripts:
        assert script.stat().st_mode & 0o111, f"{script} is not executable"


def test_launch_agent_runs_the_console_agent_from_the_app() -> None:
    with (MACOS / "de.practiceclient.agent.plist").open("rb") as handle:
        agent = plistlib.load(handle)
    assert agent["Label"] == "de.practiceclient.agent"
    assert agent["ProgramArguments"] == [
        "/Applications/Practice Client.app/Contents/MacOS/practice-client", "agent",
    ]
    assert agent["RunAtLoad"] is True and agent["KeepAlive"] == {"SuccessfulExit": False}
    assert agent["LimitLoadToSessionType"] == "Aqua"  # the login keychain is there
    spec = (INSTALLER / "practice-client.spec").read_text()
    assert 'name="Practice Client.app"' in spec and 'name="practice-client"' in spec


# launchd.plist(5): the keys the daemon uses and their types (what plutil -lint and launchd
# check beyond well-formed XML)
LAUNCHD_TYPES: dict[str, type | tuple[type, ...]] = {
    "Label": str, "ProgramArguments": list, "EnvironmentVariables": dict, "UserName": str, "Umask": int,
    "RunAtLoad": bool, "KeepAlive": (bool, dict), "ThrottleInterval": int, "StandardErrorPath": str,
    "ProcessType": str,
}


def test_launch_daemon_runs_the_practice_service_at_boot_and_restarts_it_after_a_failure() -> None:
    path = MACOS / "de.practiceclient.service.plist"
    with path.open("rb") as handle:
        daemon = plistlib.load(handle, fmt=plistlib.FMT_XML)  # well-formed XML plist, or it raises
    assert set(daemon) == set(LAUNCHD_TYPES)  # nothing launchd does not know
    for key, kind in LAUNCHD_TYPES.items():
        assert isinstance(daemon[key], kind), key
    assert all(isinstance(arg, str) for arg in daemon["ProgramArguments"])
    assert daemon["Label"] == path.stem == "de.practiceclient.service"
    assert daemon["ProgramArguments"] == [
        "/Applications/Practice Client.app/Contents/MacOS/practice-client", "service", "run",
        "--listen", "0.0.0.0:8471",
    ]
    assert daemon["RunAtLoad"] is True  # at boot, nobody logged in (a LaunchDaemon has no session)
    assert "LimitLoadToSessionType" not in daemon
    assert daemon["KeepAlive"] == {"SuccessfulExit": False}  # restarted after a failure, not after a stop
    assert daemon["UserName"] == "root" and daemon["Umask"] == 0o077  # its files for root only
    assert daemon["ProcessType"] in {"Standard", "Background", "Adaptive", "Interactive"}
    assert daemon["ThrottleInterval"] >= 1
    from practice_client.service.files import DEFAULT_PORT

    assert daemon["ProgramArguments"][-1].endswith(f":{DEFAULT_PORT}")


def test_postinstall_installs_the_practice_service_when_asked(mac_root: Path, tmp_path: Path) -> None:
    daemon = mac_root / "Library" / "LaunchDaemons" / "de.practiceclient.service.plist"
    (tmp_path / "server").mkdir()
    (tmp_path / "server" / "practice-client.conf").write_text("PRACTICE_SERVER=1\n")
    result = postinstall(tmp_path / "server", mac_root)
    assert result.returncode == 0, result.stderr
    assert daemon.read_bytes() == (MACOS / "de.practiceclient.service.plist").read_bytes()
    assert daemon.stat().st_mode & 0o777 == 0o644
    assert postinstall(tmp_path / "update", mac_root).returncode == 0 and daemon.exists()  # kept
    (tmp_path / "off").mkdir()
    (tmp_path / "off" / "practice-client.conf").write_text("PRACTICE_SERVER=0\n")
    assert postinstall(tmp_path / "off", mac_root).returncode == 0
    assert not daemon.exists()


def test_mobileconfig_has_the_msi_keys_and_the_client_reads_them() -> None:
    with (MACOS / "practice-client.mobileconfig").open("rb") as handle:
        profile = plistlib.load(handle)
    assert profile["PayloadType"] == "Configuration" and profile["PayloadScope"] == "System"
    (payload,) = profile["PayloadContent"]
    assert payload["PayloadType"] == policy.MACOS_DOMAIN
    settings = {k for k in payload if not k.startswith("Payload")}
    assert settings == POLICY_PROPERTIES
    parsed = policy.policy_from_mapping(payload, "profile")  # Payload* metadata ignored
    assert parsed.values["server_url"] == payload["SERVER_URL"]
    assert parsed.locked == set(parsed.values) == {k.lower() for k in POLICY_PROPERTIES - {"LOCK_SETTINGS"}}
    uuids = {profile["PayloadUUID"], payload["PayloadUUID"]}
    assert len(uuids) == 2


def test_entitlements_relax_only_executable_memory() -> None:
    with (MACOS / "entitlements.plist").open("rb") as handle:
        assert plistlib.load(handle) == {"com.apple.security.cs.allow-unsigned-executable-memory": True}


def test_postinstall_writes_managed_defaults_and_enables_the_agent(mac_root: Path, tmp_path: Path) -> None:
    pkg_dir = tmp_path / "deploy"
    pkg_dir.mkdir()
    (pkg_dir / "practice-client.conf").write_text(
        "# written by the IT service provider\n"
        "SERVER_URL=https://platform.test/api?a=1&b=<2>\n"
        "PRACTICE_ID=praxis-7\r\n"
        'EXPORT_DIR=/Users/Shared/PVS "Export"\n'
        "IDENT_KEY_FINGERPRINT=\n"
        "LOCK_SETTINGS=1\n"
        "AUTOSTART_AGENT=1\n"
    )
    result = postinstall(pkg_dir, mac_root)
    assert result.returncode == 0, result.stderr
    prefs = mac_root / "Library" / "Preferences" / f"{policy.MACOS_DOMAIN}.plist"
    assert prefs.stat().st_mode & 0o777 == 0o644
    found = read_policy_at(mac_root)
    assert found is not None
    assert found.values == {
        "server_url": "https://platform.test/api?a=1&b=<2>",
        "practice_id": "praxis-7",
        "export_dir": '/Users/Shared/PVS "Export"',
    }
    assert found.locked == set(found.values)
    agent = mac_root / "Library" / "LaunchAgents" / "de.practiceclient.agent.plist"
    assert agent.read_bytes() == (MACOS / "de.practiceclient.agent.plist").read_bytes()

    # An update without a conf file keeps the policy and the agent.
    assert postinstall(tmp_path / "update", mac_root).returncode == 0
    assert read_policy_at(mac_root) == found and agent.exists()

    # AUTOSTART_AGENT=0 removes the agent again.
    (tmp_path / "off").mkdir()
    (tmp_path / "off" / "practice-client.conf").write_text("AUTOSTART_AGENT=0\n")
    assert postinstall(tmp_path / "off", mac_root).returncode == 0
    assert not agent.exists()


@pytest.mark.parametrize("line, problem", [
    ("BOGUS=1", "unknown setting 'BOGUS'"),
    ("SERVER_URL", "not KEY=value"),
    ("LOCK_SETTINGS=maybe", "LOCK_SETTINGS must be 1 or 0"),
    ("AUTOSTART_AGENT=yes", "AUTOSTART_AGENT must be 0 or 1"),
    ("PRACTICE_SERVER=on", "PRACTICE_SERVER must be 0 or 1"),
])
def test_postinstall_refuses_a_bad_conf_and_changes_nothing(
    mac_root: Path, tmp_path: Path, line: str, problem: str
) -> None:
    pkg_dir = tmp_path / "deploy"
    pkg_dir.mkdir()
    conf = pkg_dir / "practice-client.conf"
    conf.write_text(f"SERVER_URL=https://platform.test\nAUTOSTART_AGENT=1\n{line}\n")
    before = sorted(p.relative_to(mac_root) for p in mac_root.rglob("*"))
    result = postinstall(pkg_dir, mac_root)
    assert result.returncode == 1
    assert result.stderr.strip() == f"practice-client postinstall: {conf}: line 3: {problem}"
    assert sorted(p.relative_to(mac_root) for p in mac_root.rglob("*")) == before


def test_desktop_entry_and_systemd_unit_are_valid(bundle: Path, tmp_path: Path) -> None:
    require(shutil.which("desktop-file-validate") is not None, "desktop-file-validate (desktop-file-utils)")
    result = subprocess.run(["desktop-file-validate", str(LINUX / "practice-client.desktop")],
                            capture_output=True, text=True)
    assert result.returncode == 0 and "error" not in result.stdout, result.stdout
    require(shutil.which("systemd-analyze") is not None, "systemd-analyze")
    unit = (LINUX / "practice-client-agent.service").read_text()
    assert "ExecStart=/opt/practice-client/practice-client agent" in unit
    local = tmp_path / "practice-client-agent.service"  # same unit, pointing at the built bundle
    local.write_text(unit.replace("/opt/practice-client/", f"{bundle}/"))
    result = subprocess.run(["systemd-analyze", "verify", str(local)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def linux_install(bundle: Path, dest: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(LINUX / "install.sh"), str(bundle)], cwd=ROOT, capture_output=True,
                          text=True, timeout=120, env={"DESTDIR": str(dest), "PATH": "/usr/bin:/bin"})


def test_linux_install_puts_a_working_bundle_in_opt(bundle: Path, tmp_path: Path) -> None:
    dest = tmp_path / "root"
    result = linux_install(bundle, dest)
    assert result.returncode == 0, result.stderr
    cli = dest / "opt" / "practice-client" / "practice-client"
    version = subprocess.run([str(cli), "--version"], capture_output=True, text=True, timeout=60)
    assert version.returncode == 0 and version.stdout.startswith("practice-client "), version.stderr
    assert (dest / "usr" / "share" / "applications" / "practice-client.desktop").is_file()
    assert (dest / "usr" / "lib" / "systemd" / "user" / "practice-client-agent.service").is_file()
    assert (dest / "usr" / "share" / "icons" / "hicolor" / "256x256" / "apps" / "practice-client.png").is_file()
    link = (dest / "usr" / "local" / "bin" / "practice-client").readlink()
    assert link == Path("/opt/practice-client/practice-client")
    # not a bundle: refused, nothing installed
    empty = tmp_path / "empty"
    empty.mkdir()
    refused = linux_install(empty, tmp_path / "r2")
    assert refused.returncode == 1 and "not a practice-client bundle" in refused.stderr
    assert not (tmp_path / "r2").exists()
