"""Admin policy: settings an IT administrator fixes for every user of a PC.

A policy is a mapping of config keys to values plus ``lock_settings``: when true,
every key the policy sets is locked (the user cannot change it); when false, the
policy only provides defaults. ``locked`` may list individual keys to lock.

Sources, first found wins - and the OS place always comes first, so no user can
replace a policy the administrator installed:

1. the OS place: the registry key ``HKLM\\Software\\Policies\\PracticeClient\\PracticeClient``
   on Windows, the managed preferences domain ``de.practiceclient.client`` on macOS
   (an MDM profile; else the machine-wide ``/Library/Preferences`` file the pkg's
   postinstall writes, which only an administrator can change),
   ``/etc/practice-client/policy.toml`` elsewhere;
2. only on a machine without one: the same layout below ``$PRACTICE_CLIENT_POLICY_ROOT``
   (a stand-in for the OS place, for tests of the installers' output);
3. only on a machine without one: ``$PRACTICE_CLIENT_POLICY`` (a TOML file).

Any user can set environment variables, so neither variable is ever consulted while the
OS place holds a policy: they can provide one where the administrator set none, never
unlock one the administrator set.
"""

from __future__ import annotations

import os
import plistlib
import sys
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from practice_client.core.errors import InputError

POLICY_ENV = "PRACTICE_CLIENT_POLICY"
POLICY_ROOT_ENV = "PRACTICE_CLIENT_POLICY_ROOT"
SYSTEM_ROOT = Path("/")  # the machine's own file system (the OS places below it)
LINUX_POLICY_FILE = Path("etc/practice-client/policy.toml")  # below a root
WINDOWS_POLICY_KEY = r"Software\Policies\PracticeClient\PracticeClient"
MACOS_DOMAIN = "de.practiceclient.client"
MACOS_MANAGED_DIR = Path("/Library/Managed Preferences")
MACOS_LOCAL_DIR = Path("/Library/Preferences")

# Policy names as the MSI / mobileconfig spell them → config keys.
_ALIASES = {
    "SERVER_URL": "server_url",
    "PRACTICE_ID": "practice_id",
    "PLATFORM_DOMAIN": "platform_domain",
    "EXPORT_DIR": "export_dir",
    "IDENT_KEY_FINGERPRINT": "ident_key_fingerprint",
    "CA_FILE": "ca_file",
    "SPKI_PINS": "spki_pins",
    "DNS_SERVER": "dns_server",
    "GPG_BINARY": "gpg_binary",
    "PROXY": "proxy",
    "PROXY_PAC_URL": "proxy_pac_url",
    "PROXY_USER": "proxy_user",
    "LOCK_SETTINGS": "lock_settings",
    "NUMBER_ONLY_MATCHING": "number_only_matching",
    "PMS_IMPORT_DIR": "pms_import_dir",
    "SHARE_NAME_PATTERN": "share_name_pattern",
    "MAX_SHARE_MB": "max_share_mb",
    "SCANNER": "scanner",
    "CLAMD_ADDRESS": "clamd_address",
    "SCANNER_COMMAND": "scanner_command",
    "LOCAL_USER_IS_ADMIN": "local_user_is_admin",
    "SERVICE_ADDRESS": "service_address",
}
# Older spellings that mean the same setting.
_RENAMED = {"spki_pin": "spki_pins"}


@dataclass(frozen=True)
class Policy:
    """Values the administrator set, and which of them the user may not change."""

    values: Mapping[str, Any] = field(default_factory=dict)
    locked: frozenset[str] = frozenset()
    source: str = ""

    def is_locked(self, key: str) -> bool:
        return key in self.locked


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in {"1", "true", "yes", "on"}
    return bool(value)


def policy_from_mapping(raw: Mapping[str, Any], source: str) -> Policy:
    """Normalise a raw policy mapping (TOML, registry or plist) into a :class:`Policy`."""
    values: dict[str, Any] = {}
    locked: set[str] = set()
    lock_all = False
    for raw_key, value in raw.items():
        if raw_key.startswith("Payload"):  # profile metadata an MDM may leave in the plist
            continue
        key = _ALIASES.get(raw_key, raw_key).lower()
        key = _RENAMED.get(key, key)
        if key == "lock_settings":
            lock_all = _truthy(value)
        elif key == "locked":
            if isinstance(value, str):
                value = [v.strip() for v in value.split(",") if v.strip()]
            if not isinstance(value, list):
                raise InputError(source, "'locked' must be a list of setting names")
            locked.update(_RENAMED.get(k, k) for k in (str(v).lower() for v in value))
        elif value not in (None, ""):
            values[key] = value
    if lock_all:
        locked.update(values)
    return Policy(values=values, locked=frozenset(locked), source=source)


def _read_toml(path: Path) -> Policy:
    try:
        with path.open("rb") as handle:
            raw = tomllib.load(handle)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(path, f"not valid TOML: {exc}") from None
    except OSError as exc:
        raise InputError(path, f"cannot read policy: {exc.strerror}") from None
    return policy_from_mapping(raw, str(path))


def _read_windows_registry() -> Policy | None:  # pragma: no cover - Windows only
    import winreg  # type: ignore[import-not-found,unused-ignore]

    try:
        key = winreg.OpenKey(winreg.HKEY_LOCAL_MACHINE, WINDOWS_POLICY_KEY)  # type: ignore[attr-defined,unused-ignore]
    except OSError:
        return None
    raw: dict[str, Any] = {}
    with key:
        index = 0
        while True:
            try:
                name, value, _kind = winreg.EnumValue(key, index)  # type: ignore[attr-defined,unused-ignore]
            except OSError:
                break
            raw[name] = value
            index += 1
    return policy_from_mapping(raw, "HKLM\\" + WINDOWS_POLICY_KEY)


def read_macos_managed(
    directory: Path = MACOS_MANAGED_DIR, local_dir: Path = MACOS_LOCAL_DIR
) -> Policy | None:
    """Managed preferences written by an MDM profile, else the pkg's postinstall.

    The postinstall writes ``/Library/Preferences`` (root-only) rather than the managed
    folder, which macOS rebuilds from the installed profiles and may clear. The per-user
    managed folder is the one of the account the process runs as (not ``$USER``, which
    any user can set to another account's name).
    """
    candidates = [directory / f"{MACOS_DOMAIN}.plist", local_dir / f"{MACOS_DOMAIN}.plist"]
    user = _account_name()
    if user:
        candidates.insert(0, directory / user / f"{MACOS_DOMAIN}.plist")
    for path in candidates:
        if path.is_file():
            try:
                with path.open("rb") as handle:
                    raw = plistlib.load(handle)
            except (plistlib.InvalidFileException, OSError, ValueError) as exc:
                raise InputError(path, f"cannot read managed preferences: {exc}") from None
            return policy_from_mapping(raw, str(path))
    return None


def _account_name() -> str:
    try:
        import pwd

        return pwd.getpwuid(os.getuid()).pw_name
    except (ImportError, KeyError):  # pragma: no cover - Windows, or an account without a name
        return ""


def read_os_policy(root: Path | None = None) -> Policy | None:
    """The policy in the OS place, or None if there is none. ``root`` reads the same
    layout below another folder (the stand-in of tests); None is the machine itself."""
    if root is None and sys.platform == "win32":  # pragma: no cover - Windows only
        return _read_windows_registry()
    base = SYSTEM_ROOT if root is None else root
    if sys.platform == "darwin":  # pragma: no cover - macOS only
        return read_macos_managed(base / MACOS_MANAGED_DIR.relative_to("/"),
                                  base / MACOS_LOCAL_DIR.relative_to("/"))
    path = base / LINUX_POLICY_FILE
    return _read_toml(path) if path.is_file() else None


def read_policy() -> Policy:
    """The policy in force for this process (empty when there is none): the OS place's,
    else a stand-in root's, else ``$PRACTICE_CLIENT_POLICY``'s - see the module doc."""
    found = read_os_policy()
    if found is not None:
        return found
    stand_in = os.environ.get(POLICY_ROOT_ENV)
    if stand_in:
        found = read_os_policy(Path(stand_in))
        if found is not None:
            return found
    env = os.environ.get(POLICY_ENV)
    return _read_toml(Path(env)) if env else Policy()
