"""The MSI `make dist` builds with wixl, read back table by table with msiinfo.

What an IT admin relies on: every public property lands in the policy key the client
reads, the UpgradeCode never changes, component GUIDs are stable across builds, the
install is per-machine and 64-bit, there is a Start-menu shortcut to the GUI.
"""

from __future__ import annotations

import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from practice_client import __version__
from practice_client.core import policy
from practice_client.core.config import Config, load_config
from tests.installer.conftest import INSTALLER, build_msi, harvest, msi_table

UPGRADE_CODE = "{574B3A71-7D41-48ED-8278-970527CD3D90}"  # fixed forever: upgrades depend on it
POLICY_PROPERTIES = set(policy._ALIASES)  # SERVER_URL, PRACTICE_ID, ... (the policy interface)
HKLM = "2"
COMPONENT_64BIT = 256


def test_product_is_per_machine_with_fixed_upgrade_code(msi: Path) -> None:
    props = {r["Property"]: r["Value"] for r in msi_table(msi, "Property").rows}
    assert props["UpgradeCode"] == UPGRADE_CODE
    assert props["ProductVersion"] == __version__
    assert props["ALLUSERS"] == "1"
    assert props["ARPPRODUCTICON"] == "PracticeClientIcon"
    upgrade = msi_table(msi, "Upgrade").rows
    assert {r["UpgradeCode"] for r in upgrade} == {UPGRADE_CODE}
    assert {r["ActionProperty"] for r in upgrade} == {"WIX_UPGRADE_DETECTED", "WIX_DOWNGRADE_DETECTED"}
    sequence = {r["Action"]: int(r["Sequence"]) for r in msi_table(msi, "InstallExecuteSequence").rows}
    assert sequence["RemoveExistingProducts"] < sequence["InstallFiles"]  # MajorUpgrade
    conditions = {r["Condition"] for r in msi_table(msi, "LaunchCondition").rows}
    assert conditions == {"NOT WIX_DOWNGRADE_DETECTED", "Installed OR VersionNT64 >= 603"}


def test_every_public_property_lands_in_the_policy_key(msi: Path) -> None:
    rows = [r for r in msi_table(msi, "Registry").rows if r["Key"] == policy.WINDOWS_POLICY_KEY]
    assert {r["Name"] for r in rows} == POLICY_PROPERTIES
    for row in rows:
        assert row["Root"] == HKLM
        assert row["Value"] == f"[{row['Name']}]", row  # written as given on the command line
    # every property the MSI writes is a setting the client knows, and LOCK_SETTINGS locks them
    mapped = policy.policy_from_mapping({name: "1" for name in POLICY_PROPERTIES}, "msi")
    assert set(mapped.values) == {n.lower() for n in POLICY_PROPERTIES - {"LOCK_SETTINGS"}}
    assert set(mapped.values) <= set(Config.keys()) and mapped.locked == set(mapped.values)


def test_trust_and_network_settings_are_properties_the_admin_can_lock(fake_bundle: Path, tmp_path: Path) -> None:
    """CA_FILE, SPKI_PINS (several pins), DNS_SERVER, GPG_BINARY and the proxy settings are
    written to the policy key like the others, so LOCK_SETTINGS fixes them too."""
    built = build_msi(fake_bundle, tmp_path / "out")
    names = {r["Name"] for r in msi_table(built, "Registry").rows if r["Key"] == policy.WINDOWS_POLICY_KEY}
    wanted = {"CA_FILE", "SPKI_PINS", "DNS_SERVER", "GPG_BINARY", "PROXY", "PROXY_PAC_URL", "PROXY_USER"}
    assert wanted <= names
    pins = "sha256/" + "A" * 43 + "=, " + "B" * 43 + "="
    written = {"CA_FILE": r"C:\ProgramData\Praxis\ca.pem", "SPKI_PINS": pins, "DNS_SERVER": "10.0.0.53:53",
               "LOCK_SETTINGS": "1"}
    cfg = load_config(tmp_path / "config.toml", policy.policy_from_mapping(written, "HKLM"))
    assert cfg.ca_file == written["CA_FILE"] and cfg.dns_server == "10.0.0.53:53"
    assert cfg.pins() == ("sha256/" + "A" * 43 + "=", "B" * 43 + "=")
    assert {"ca_file", "spki_pins", "spki_pin", "dns_server"} <= cfg.locked


def test_policy_values_survive_an_upgrade_without_properties(msi: Path) -> None:
    """A value already in the registry is read back (AppSearch) and kept when the admin
    updates with a bare `msiexec /i new.msi /qn`."""
    locators = {r["Name"]: r for r in msi_table(msi, "RegLocator").rows if r["Key"] == policy.WINDOWS_POLICY_KEY}
    assert set(locators) == POLICY_PROPERTIES
    search = {r["Signature_"]: r["Property"] for r in msi_table(msi, "AppSearch").rows}
    actions = {r["Source"]: r for r in msi_table(msi, "CustomAction").rows}
    sequence = {r["Action"]: r for r in msi_table(msi, "InstallExecuteSequence").rows}
    for name, locator in locators.items():
        saved = search[locator["Signature_"]]
        action = actions[name]
        assert action["Target"] == f"[{saved}]"
        step = sequence[action["Action"]]
        assert step["Condition"] == f"{saved} AND NOT {name}"  # the command line wins
        assert int(sequence["AppSearch"]["Sequence"]) < int(step["Sequence"]) < int(
            sequence["CostFinalize"]["Sequence"]
        )


def test_start_menu_shortcut_and_executables(msi: Path) -> None:
    files = {r["File"]: r for r in msi_table(msi, "File").rows}
    assert files["GuiExe"]["FileName"] == "practice-client-gui"  # ".exe" in the Windows build
    assert files["CliExe"]["FileName"] == "practice-client"
    shortcuts = msi_table(msi, "Shortcut").rows
    assert len(shortcuts) == 1
    assert shortcuts[0]["Directory_"] == "ProgramMenuFolder"
    assert shortcuts[0]["Target"] == "[#GuiExe]"
    assert shortcuts[0]["Name"] == "Practice Client"
    dirs = {r["Directory"]: r for r in msi_table(msi, "Directory").rows}
    assert dirs["INSTALLDIR"]["Directory_Parent"] == "ProgramFiles64Folder"


def test_autostart_is_an_optional_feature(msi: Path) -> None:
    features = {r["Feature"]: r for r in msi_table(msi, "Feature").rows}
    assert int(features["Autostart"]["Level"]) > 1 == int(features["Main"]["Level"])  # off by default
    run = [r for r in msi_table(msi, "Registry").rows if r["Name"] == "PracticeClientAgent"]
    assert run[0]["Key"] == r"Software\Microsoft\Windows\CurrentVersion\Run"
    assert run[0]["Value"] == '"[INSTALLDIR]practice-client-gui.exe" agent'


def test_every_bundle_file_is_installed_by_a_stable_64bit_component(msi: Path, bundle: Path) -> None:
    expected = {str(p): harvest.component_guid(str(p)) for p in harvest.bundle_files(bundle)}
    files = msi_table(msi, "File").rows
    components = {r["Component"]: r for r in msi_table(msi, "Component").rows}
    assert len(files) == len(expected)
    guids = {components[f["Component_"]]["ComponentId"].strip("{}") for f in files}
    assert guids == set(expected.values())
    for f in files:
        assert int(components[f["Component_"]]["Attributes"]) & COMPONENT_64BIT
    # GUIDs depend on the install path only: this one must never change between releases
    assert harvest.component_guid("practice-client.exe") == "E8FE3D88-7AEF-5042-AB82-ABD3026756AB"
    assert harvest.component_guid("practice-client") == "3C649FEA-7887-5712-847A-CF189E41D403"
    assert harvest.component_guid("_internal\\Base_Library.zip") == harvest.component_guid("_internal/base_library.zip")


def test_harvest_is_byte_for_byte_stable_wherever_the_bundle_lies(fake_bundle: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "copy" / "practice-client"
    shutil.copytree(fake_bundle, elsewhere)
    first = ET.fromstring(harvest.render_fragment(fake_bundle))
    second = ET.fromstring(harvest.render_fragment(elsewhere))
    ns = {"w": "http://schemas.microsoft.com/wix/2006/wi"}

    def ids(root: ET.Element) -> list[tuple[str, str]]:
        return [(c.get("Id", ""), c.get("Guid", "")) for c in root.iterfind(".//w:Component", ns)]

    assert ids(first) == ids(second) and len(ids(first)) == 3  # the service's executable is in the .wxs
    assert harvest.render_fragment(fake_bundle) == harvest.render_fragment(fake_bundle)


def test_msi_build_refuses_a_folder_that_is_not_a_bundle(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(AssertionError, match="not a practice-client bundle"):
        build_msi(tmp_path / "empty", tmp_path / "out")
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())


def test_wxs_declares_the_policy_properties_secure() -> None:
    """With the WiX Toolset, Secure="yes" lets the properties reach the elevated install."""
    root = ET.parse(INSTALLER / "windows" / "practice-client.wxs").getroot()
    ns = {"w": "http://schemas.microsoft.com/wix/2006/wi"}
    secure = {p.get("Id") for p in root.iterfind(".//w:Property", ns) if p.get("Secure") == "yes"}
    assert secure == POLICY_PROPERTIES | {"AUTOSTART_AGENT", "SERVICE_LISTEN"}


SERVICE_OWN_PROCESS, AUTO_START, ERROR_NORMAL = "16", "2", "1"
# ServiceControl events: start on install, stop on install and uninstall, delete on uninstall
START_INSTALL, STOP_INSTALL, STOP_UNINSTALL, DELETE_UNINSTALL = 1, 2, 32, 128
DEFERRED_NO_IMPERSONATE_EXE_IN_PROPERTY = 50 | 1024 | 2048
MIGRATE_FEATURES = 1  # msidbUpgradeAttributesMigrateFeatures


def test_the_practice_service_is_a_windows_service_that_starts_at_boot_and_recovers(msi: Path) -> None:
    """ServiceInstall/ServiceControl as the control manager gets them: the console executable
    runs `service run --windows-service` (practice_client/service/windows.py) as LocalSystem,
    at boot; the MSI starts it, stops it for upgrades and removes it; sc.exe sets its
    recovery (restart after a failure) between InstallServices and StartServices."""
    from practice_client.service.windows import SERVICE_NAME

    installs = msi_table(msi, "ServiceInstall").rows
    assert len(installs) == 1
    service = installs[0]
    assert service["Name"] == SERVICE_NAME and service["StartName"] == "LocalSystem"
    assert (service["ServiceType"], service["StartType"], service["ErrorControl"]) == (
        SERVICE_OWN_PROCESS, AUTO_START, ERROR_NORMAL)
    assert service["Arguments"] == 'service run --windows-service --listen "[SERVICE_LISTEN]"'
    components = {r["Component"]: r for r in msi_table(msi, "Component").rows}
    files = {r["File"]: r for r in msi_table(msi, "File").rows}
    image = components[service["Component_"]]
    assert image["KeyPath"] == "CliExe" and files["CliExe"]["Component_"] == service["Component_"]
    assert image["ComponentId"].strip("{}") == harvest.component_guid(files["CliExe"]["FileName"])
    controls = msi_table(msi, "ServiceControl").rows
    assert len(controls) == 1 and controls[0]["Name"] == SERVICE_NAME and controls[0]["Wait"] == "1"
    assert int(controls[0]["Event"]) == START_INSTALL | STOP_INSTALL | STOP_UNINSTALL | DELETE_UNINSTALL

    actions = {r["Action"]: r for r in msi_table(msi, "CustomAction").rows}
    sequence = {r["Action"]: r for r in msi_table(msi, "InstallExecuteSequence").rows}
    recovery = actions["ServiceRecovery"]
    assert int(recovery["Type"]) == DEFERRED_NO_IMPERSONATE_EXE_IN_PROPERTY and recovery["Source"] == "SC_EXE"
    assert recovery["Target"] == (f"failure {SERVICE_NAME} reset= 86400 "
                                  "actions= restart/5000/restart/10000/restart/60000")
    assert actions["ServiceRecoveryOnError"]["Target"] == f"failureflag {SERVICE_NAME} 1"
    assert actions["FindScExe"]["Target"] == "[System64Folder]sc.exe"
    order = {name: int(sequence[name]["Sequence"]) for name in
             ("FindScExe", "InstallServices", "ServiceRecovery", "ServiceRecoveryOnError", "StartServices")}
    assert order["FindScExe"] < order["InstallServices"] < order["ServiceRecovery"] < order["StartServices"]
    assert order["ServiceRecoveryOnError"] < order["StartServices"]
    for name in ("ServiceRecovery", "ServiceRecoveryOnError"):
        assert sequence[name]["Condition"] == f"${service['Component_']} = 3"  # only where it is installed


def test_features_praxis_server_and_arbeitsplatz(msi: Path) -> None:
    """"Praxis-Server": the service and the command line; "Arbeitsplatz": the app and its
    Start-menu entry; both on by default (one PC is the whole practice), a workstation gets
    ADDLOCAL=Main,Arbeitsplatz SERVICE_ADDRESS=HOST, which reaches the client's policy."""
    features = {r["Feature"]: r for r in msi_table(msi, "Feature").rows}
    assert features["PraxisServer"]["Title"] == "Praxis-Server"
    assert features["Arbeitsplatz"]["Title"] == "Arbeitsplatz"
    assert features["PraxisServer"]["Feature_Parent"] == features["Arbeitsplatz"]["Feature_Parent"] == "Main"
    assert features["PraxisServer"]["Level"] == features["Arbeitsplatz"]["Level"] == "1"
    parts: dict[str, set[str]] = {}
    for row in msi_table(msi, "FeatureComponents").rows:
        parts.setdefault(row["Feature_"], set()).add(row["Component_"])
    service = msi_table(msi, "ServiceInstall").rows[0]["Component_"]
    shortcut = msi_table(msi, "Shortcut").rows[0]["Component_"]
    assert service in parts["PraxisServer"] and service not in parts["Arbeitsplatz"] | parts["Main"]
    assert shortcut in parts["Arbeitsplatz"] and shortcut not in parts["PraxisServer"]
    gui = {r["File"]: r for r in msi_table(msi, "File").rows}["GuiExe"]["Component_"]
    assert gui in parts["Main"]  # the app's files are shared by both features
    registry = {r["Name"]: r for r in msi_table(msi, "Registry").rows}
    assert registry["SERVICE_ADDRESS"]["Key"] == policy.WINDOWS_POLICY_KEY
    written = policy.policy_from_mapping({"SERVICE_ADDRESS": "praxis-server:8471"}, "HKLM")
    assert Config(**written.values).service_address == "praxis-server:8471"
    assert registry["SERVICE_LISTEN"]["Value"] == "[SERVICE_LISTEN]"
    actions = {r["Action"]: r for r in msi_table(msi, "CustomAction").rows}
    sequence = {r["Action"]: r for r in msi_table(msi, "InstallExecuteSequence").rows}
    assert actions["DefaultServiceListen"]["Target"] == "0.0.0.0:8471"
    assert sequence["DefaultServiceListen"]["Condition"] == "NOT SERVICE_LISTEN"
    assert int(sequence["KeepServiceListen"]["Sequence"]) < int(sequence["DefaultServiceListen"]["Sequence"])
    # an upgrade keeps a workstation a workstation (the features installed before)
    upgrade = next(r for r in msi_table(msi, "Upgrade").rows if r["ActionProperty"] == "WIX_UPGRADE_DETECTED")
    assert int(upgrade["Attributes"]) & MIGRATE_FEATURES and "MigrateFeatureStates" in sequence
