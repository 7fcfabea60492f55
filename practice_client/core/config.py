"""The practice's settings: a TOML file in the home, overlaid by admin policy.

Only non-secret settings live here. Tokens, passphrases and keys are in the OS
keyring (:mod:`practice_client.core.secrets`). The file is always replaced
atomically, so a crash never leaves a half-written config.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import tomli_w

from practice_client.core.atomic import atomic_write
from practice_client.core.errors import InputError, NotConfigured, PolicyLocked
from practice_client.core.policy import Policy, read_policy
from practice_client.core.text import Text

# <patient number>_<birth date>_<anything>: two identifiers (birth date TTMMJJJJ or YYYY-MM-DD).
# A name with the number alone matches the pattern too, but counts only where the policy
# sets number_only_matching.
DEFAULT_FILENAME_PATTERN = (
    r"^(?P<patient_number>[0-9A-Za-z]+)_(?:(?P<birth_date>\d{8}|\d{4}-\d{2}-\d{2})(?=[_.]|$)_?)?.+$"
)
# Settings only the administrator's policy can give: a user's own file may not.
# The scanner command runs a program on every shared document and the local admin switch
# lets the desktop user release quarantined shares: the administrator's alone.
POLICY_ONLY = frozenset({"number_only_matching", "scanner_command", "local_user_is_admin"})
DEFAULT_SHARE_NAME_PATTERN = "{patient_number}_{date}_{share}.{ext}"


@dataclass
class Config:
    """Every setting of the client, with its default. Names are the TOML keys."""

    server_url: str = ""
    practice_id: str = ""
    platform_domain: str = ""
    ident_key_fingerprint: str = ""
    dns_server: str = ""  # HOST:PORT, empty = system resolver
    ca_file: str = ""  # extra CA for a private platform (beside the OS trust store)
    spki_pins: str = ""  # base64 SHA-256 of the platform's SubjectPublicKeyInfo, comma-separated
    spki_pin: str = ""  # the earlier single-pin setting, still read (see pins())
    gpg_binary: str = ""  # absolute path of gpg; empty = found in the OS's root-owned places
    proxy: str = "system"  # "system" (OS settings, PAC/WPAD), "none", or http://HOST:PORT
    proxy_pac_url: str = ""  # a PAC file's URL (overrides the system's proxy settings)
    proxy_user: str = ""  # for proxy authentication; the password is in the OS keyring
    export_dir: str = ""
    filename_pattern: str = DEFAULT_FILENAME_PATTERN
    number_only_matching: bool = False  # policy only: a file name's patient number alone may match
    sidecar_grace_seconds: float = 10.0  # how long a file without a match waits for its GDT record
    gdt_answer_dir: str = ""  # the PMS import folder for "sent" GDT records; empty: none written
    after_delivery: str = "move"  # "move" to processed/ or "remove"
    key_algorithm: str = "ed25519"  # or "rsa3072"
    practice_key_fingerprint: str = ""
    rescan_seconds: float = 30.0
    stable_seconds: float = 1.0
    upload_workers: int = 2
    eml_dir: str = ""
    imap_host: str = ""
    imap_port: int = 993
    imap_user: str = ""
    imap_folder: str = "INBOX"
    imap_processed_folder: str = "Verarbeitet"
    imap_ca_file: str = ""
    poll_seconds: float = 60.0
    max_request_days: int = 90  # a request is valid at most this long after its creation
    keep_processed_days: int = 30  # delivered originals in processed/ (0: kept for ever)
    keep_failed_days: int = 90  # failed originals in failed/ or sealed in the spool (0: for ever)
    keep_messages_days: int = 90  # raw request messages once their request is done (0: for ever)
    language: str = "de"
    debug_logging: bool = False  # DEBUG lines in the log (identifiers only); also --debug / PRACTICE_CLIENT_DEBUG
    max_document_mb: int = 500  # larger documents are refused before anything is copied; 0 = no limit
    # documents patients share (practice_client/shares/)
    pms_import_dir: str = ""  # where clean shares go with their GDT record; empty: shares wait
    share_name_pattern: str = DEFAULT_SHARE_NAME_PATTERN  # the file's name in the import folder
    max_share_mb: int = 100  # larger shares are never downloaded (quarantined for staff)
    scanner: str = "auto"  # auto | clamd | defender | command | none (none: shares wait)
    clamd_address: str = ""  # clamd's unix socket or HOST:PORT; empty: its usual sockets
    defender_path: str = ""  # MpCmdRun.exe; empty: its usual place
    scanner_command: str = ""  # policy only: a command line with {file}; exit 0 clean, 1 infected
    scanner_timeout_seconds: float = 300.0
    local_user_is_admin: bool = False  # policy only: the desktop user may release from quarantine
    close_to_tray: bool = True
    offline: bool = False
    service_address: str = ""  # a workstation's practice service, HOST[:PORT] (the MSI's SERVICE_ADDRESS)
    locked: frozenset[str] = field(default=frozenset(), compare=False, repr=False)

    def is_locked(self, key: str) -> bool:
        return key in self.locked

    def pins(self) -> tuple[str, ...]:
        """Every configured SPKI pin (``spki_pins`` and the older ``spki_pin``), in order.
        Several pins let the platform rotate its key: the backup pin is there beforehand."""
        found: list[str] = []
        for value in (self.spki_pins, self.spki_pin):
            found += [p for p in value.replace(",", " ").split() if p not in found]
        return tuple(found)

    @classmethod
    def keys(cls) -> list[str]:
        return [f.name for f in fields(cls) if f.name != "locked"]


def _coerce(source: str, key: str, value: Any, default: Any) -> Any:
    """Check a value against the type of its default; raise a one-line error otherwise."""
    if isinstance(default, bool):
        if isinstance(value, bool):
            return value
        if isinstance(value, (int, str)) and str(value).lower() in {"0", "1", "true", "false"}:
            return str(value).lower() in {"1", "true"}
    elif isinstance(default, int):
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().isdigit():
            return int(value)
    elif isinstance(default, float):
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
    elif isinstance(default, str) and isinstance(value, str):
        return value
    elif isinstance(default, str) and isinstance(value, list) and all(isinstance(v, str) for v in value):
        return ", ".join(value)  # a list (TOML array, plist array) of a comma-separated setting
    raise InputError(source, f"setting '{key}' has the wrong type ({type(value).__name__})")


def _apply(cfg: Config, raw: dict[str, Any], source: str) -> None:
    known = {f.name: f for f in fields(Config) if f.name != "locked"}
    defaults = Config()
    for key, value in raw.items():
        if key not in known:
            raise InputError(source, f"unknown setting '{key}'")
        setattr(cfg, key, _coerce(source, key, value, getattr(defaults, key)))


def read_user_config(path: Path) -> dict[str, Any]:
    """The user's own settings as stored (no policy applied)."""
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        return {}
    except tomllib.TOMLDecodeError as exc:
        raise InputError(path, f"not valid TOML: {exc}") from None


def load_config(path: Path, policy: Policy | None = None) -> Config:
    """The effective config: defaults < policy defaults < user file < locked policy values."""
    policy = read_policy() if policy is None else policy
    cfg = Config()
    unlocked = {k: v for k, v in policy.values.items() if k not in policy.locked}
    locked = {k: v for k, v in policy.values.items() if k in policy.locked}
    _apply(cfg, unlocked, policy.source)
    user = read_user_config(path)
    for key in POLICY_ONLY & set(user):
        raise InputError(path, f"setting '{key}' can only be set by the administrator's policy")
    _apply(cfg, user, str(path))
    _apply(cfg, locked, policy.source)
    cfg.locked = policy.locked
    if "spki_pins" in policy.locked:  # a locked pin set: the user's old-style pin adds nothing
        cfg.spki_pin = ""
        cfg.locked = cfg.locked | {"spki_pin"}
    return cfg


def require_configured(cfg: Config, path: Path) -> Config:
    if not cfg.practice_key_fingerprint:
        raise NotConfigured(
            f"{path}: the client is not set up yet - run 'practice-client setup' first"
        )
    return cfg


def save_settings(path: Path, changes: dict[str, Any], policy: Policy | None = None) -> Config:
    """Merge ``changes`` into the user's file atomically; refuse keys the policy locks."""
    policy = read_policy() if policy is None else policy
    for key, value in changes.items():
        if key in POLICY_ONLY or (policy.is_locked(key) and policy.values.get(key) != value):
            locked = Text("vom Administrator festgelegt", "fixed by the administrator's policy")
            raise PolicyLocked(locked.prefixed(f"{key}: "))
    raw = read_user_config(path)
    probe = Config()
    _apply(probe, changes, "settings")  # type check before anything is written
    raw.update({k: v for k, v in changes.items() if not policy.is_locked(k)})
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, tomli_w.dumps(raw).encode("utf-8"))
    return load_config(path, policy)
