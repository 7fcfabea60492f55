"""Setting up a practice: the steps behind ``practice-client setup`` and the GUI wizard.

Order matters for "nothing half-done": every input is checked before anything is
written; then settings, the identity key, the practice key, the token, and last
(unless offline) registration of the practice key with the platform.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from practice_client.core.errors import InputError, PracticeClientError
from practice_client.core.secrets import PLATFORM_TOKEN
from practice_client.crypto.gpg import inspect_keys
from practice_client.crypto.patient_keys import mark_clean
from practice_client.crypto.practice_key import ensure_practice_key

if TYPE_CHECKING:
    from practice_client.context import Context


@dataclass(frozen=True)
class SetupParams:
    server_url: str
    practice_id: str
    platform_domain: str
    ident_key_file: Path
    dns_server: str = ""
    ca_file: Path | None = None
    export_dir: Path | None = None
    token: str | None = None
    offline: bool = False
    practice_name: str = "Arztpraxis"
    key_algorithm: str = "ed25519"


@dataclass(frozen=True)
class SetupResult:
    practice_key_fingerprint: str
    key_created: bool
    ident_key_fingerprint: str
    registered: bool


def check_server_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme != "https" or not parts.hostname:
        raise InputError(url, "the platform server must be an https:// URL")
    return url.rstrip("/")


def check_dns_server(value: str) -> str:
    if not value:
        return ""
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise InputError(value, "--dns-server must be HOST:PORT")
    return value


def read_ident_key(path: Path) -> tuple[str, str]:
    """The platform identity key: exactly one public key that can sign."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(path, f"cannot read the identity key: {exc.strerror}") from None
    keys = inspect_keys(data)
    if len(keys) != 1:
        raise InputError(path, f"expected exactly one OpenPGP public key, found {len(keys)}")
    key = keys[0]
    if key.revoked or key.expired or not key.can_sign:
        raise InputError(path, "the identity key is revoked, expired or cannot sign")
    return key.fingerprint, data.decode("ascii", "replace")


def provision(ctx: Context, params: SetupParams) -> SetupResult:
    server_url = check_server_url(params.server_url)
    dns_server = check_dns_server(params.dns_server)
    if not params.practice_id.strip():
        raise InputError("--practice-id", "the practice id must not be empty")
    if not params.platform_domain.strip() or "." not in params.platform_domain:
        raise InputError(params.platform_domain or "--platform-domain", "not a domain name")
    ident_fpr, ident_armored = read_ident_key(params.ident_key_file)
    if params.ca_file is not None and "BEGIN CERTIFICATE" not in _read_text(params.ca_file):
        raise InputError(params.ca_file, "not a PEM certificate file")
    if params.export_dir is not None and params.export_dir.exists() and not params.export_dir.is_dir():
        raise InputError(params.export_dir, "the export folder is not a directory")

    changes: dict[str, object] = {
        "server_url": server_url,
        "practice_id": params.practice_id.strip(),
        "platform_domain": params.platform_domain.strip().lower(),
        "ident_key_fingerprint": ident_fpr,
        "dns_server": dns_server,
        "offline": params.offline,
    }
    if params.ca_file is not None:
        pinned_ca = ctx.home.root / "platform-ca.pem"
        shutil.copyfile(params.ca_file, pinned_ca)
        changes["ca_file"] = str(pinned_ca)
    if params.export_dir is not None:
        params.export_dir.mkdir(parents=True, exist_ok=True)
        changes["export_dir"] = str(params.export_dir.absolute())
    # Keys the policy locks keep the administrator's value.
    changes = {k: v for k, v in changes.items() if not ctx.config.is_locked(k)}
    ctx.update_config(**changes)
    ctx.gpg.import_keys(ident_armored)
    if params.token is not None:
        ctx.secrets.set(PLATFORM_TOKEN, params.token.strip())
    fingerprint, created = ensure_practice_key(ctx, params.practice_name, params.key_algorithm)
    if created:
        mark_clean(ctx)  # a new home: no patient's key was ever imported into it
    ctx.store.record(
        "setup.completed", practice_key=fingerprint, ident_key=ident_fpr, offline=params.offline
    )
    registered = False
    if not params.offline:
        registered = register_practice_key(ctx)
    return SetupResult(fingerprint, created, ident_fpr, registered)


def register_practice_key(ctx: Context) -> bool:
    """``PUT /v1/practice/key``: patients' apps pin the key from the practice, the
    platform only relays it."""
    armored = ctx.gpg.export_public(ctx.config.practice_key_fingerprint)
    with ctx.platform() as client:
        client.register_practice_key(armored)
    ctx.store.record("key.registered", fingerprint=ctx.config.practice_key_fingerprint)
    return True


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="ascii", errors="replace")
    except OSError as exc:
        raise PracticeClientError(f"{path}: cannot read: {exc.strerror}") from None
