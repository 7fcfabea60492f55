"""The practice service's secrets: a sealed vault whose key lives where the OS keeps
secrets for services.

A service runs without a logged-in user, so there is no user keyring to ask. Each OS
offers services their own store, and each holds one thing here, the **vault key**
(32 random bytes):

- Linux: a systemd credential. ``systemd-creds encrypt`` binds it to the machine (its
  host key in ``/var/lib/systemd/credential.secret``, and the TPM2 where there is one);
  the unit's ``LoadCredentialEncrypted=`` has systemd decrypt it at every start into
  ``$CREDENTIALS_DIRECTORY`` (memory, readable by the service alone). The installer
  creates it once: ``practice-client service credential --create FILE``.
- Windows: DPAPI (``CryptProtectData``) with the machine's key (``CRYPTPROTECT_LOCAL_MACHINE``),
  the blob in the service's data folder, whose access list admits LocalSystem and the
  Administrators only (``windows.secure_folder``): the service (LocalSystem) and an
  administrator adopting a home can unwrap it, no other user can read it, and the blob
  opens on no other machine.
- macOS: the System keychain, as a generic password that root (the LaunchDaemon) reads.

Every secret of the practice (database key, practice key passphrase, platform token,
IMAP and proxy passwords, the service's TLS key) is kept in ``vault``: one file sealed
with AES-256-GCM under the vault key, written atomically. The service adds and changes
secrets while it runs (the platform token at setup), which the OS stores cannot take from
an unprivileged service; the vault can, and whoever cannot read the vault key cannot read
any of it. Never a plain file; never in a log.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import os
import secrets as _random
import shutil
import subprocess
import sys
import threading
from pathlib import Path
from typing import Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from practice_client.core.atomic import atomic_write
from practice_client.core.errors import SecretError
from practice_client.core.logs import register_sensitive

log = logging.getLogger(__name__)

VAULT_KEY_NAME = "practice-client-vault-key"  # the systemd credential / keychain item
CREDENTIALS_ENV = "CREDENTIALS_DIRECTORY"  # set by systemd for LoadCredential(Encrypted)=
_MAGIC = b"PCV1"
_AAD = b"practice-client service vault v1"
SYSTEM_KEYCHAIN = "/Library/Keychains/System.keychain"


class KeyProvider(Protocol):
    """Where the vault key comes from: the OS's store for services."""

    description: str

    def vault_key(self) -> bytes:
        """The 32-byte key; :class:`SecretError` saying what to do when it is not there."""


def _decode_key(text: bytes, where: str) -> bytes:
    try:
        key = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        key = b""
    if len(key) != 32:
        raise SecretError(f"{where}: not a vault key (32 bytes, base64)")
    return key


def new_key_text() -> bytes:
    return base64.b64encode(_random.token_bytes(32))


class SystemdCredential:
    """The vault key as systemd hands it to the unit (``LoadCredentialEncrypted=``)."""

    description = "systemd credential"

    def __init__(self, name: str = VAULT_KEY_NAME) -> None:
        self.name = name

    def vault_key(self) -> bytes:
        folder = os.environ.get(CREDENTIALS_ENV)
        if not folder:
            raise SecretError(
                f"the vault key ({self.name}) is missing: start the service through its systemd unit "
                f"(LoadCredentialEncrypted={self.name}:...), not by hand"
            )
        path = Path(folder) / self.name
        try:
            return _decode_key(path.read_bytes(), str(path))
        except FileNotFoundError:
            raise SecretError(f"{path}: the unit loads no credential {self.name}") from None


def create_systemd_credential(path: Path, name: str = VAULT_KEY_NAME) -> None:
    """Encrypt a new vault key for this machine with ``systemd-creds`` (the installer, as
    root). The key goes to systemd-creds on its standard input, never to a file or argv.
    An existing credential is kept: a new key would make the vault unreadable."""
    if path.exists():
        raise SecretError(f"{path}: a vault key exists already (kept: the vault is sealed with it)")
    tool = shutil.which("systemd-creds")
    if tool is None:
        raise SecretError("systemd-creds is missing: the service needs systemd 250 or later")
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    partial = path.with_name(path.name + ".partial")
    result = subprocess.run(  # noqa: S603 - fixed tool, our arguments
        [tool, "encrypt", f"--name={name}", "-", str(partial)], input=new_key_text(),
        capture_output=True, check=False, timeout=60,
    )
    if result.returncode != 0:
        partial.unlink(missing_ok=True)
        detail = result.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or ["failed"]
        raise SecretError(f"{path}: systemd-creds encrypt: {detail[0][:200]}")
    partial.chmod(0o600)
    partial.replace(path)


class WindowsDpapi:  # pragma: no cover - Windows only
    """The vault key wrapped with the machine's DPAPI key, in a folder for LocalSystem and
    the Administrators only."""

    description = "DPAPI (this machine)"
    CRYPTPROTECT_LOCAL_MACHINE = 0x4

    def __init__(self, blob: Path) -> None:
        self.blob = blob

    def vault_key(self) -> bytes:
        import win32crypt  # pywin32, Windows only

        if not self.blob.exists():
            plain = new_key_text()
            wrapped = win32crypt.CryptProtectData(plain, "practice-client vault key", None, None, None,
                                                  self.CRYPTPROTECT_LOCAL_MACHINE)
            atomic_write(self.blob, bytes(wrapped))
        try:
            _desc, plain = win32crypt.CryptUnprotectData(self.blob.read_bytes(), None, None, None, 0)
        except Exception as exc:
            raise SecretError(f"{self.blob}: DPAPI cannot unwrap the vault key for this account "
                              f"({type(exc).__name__})") from None
        return _decode_key(bytes(plain), str(self.blob))


class SystemKeychain:  # pragma: no cover - macOS only
    """The vault key as a generic password in the System keychain (root: the LaunchDaemon)."""

    description = "System keychain"

    def vault_key(self) -> bytes:
        found = self._find()
        if found is None:
            # ``security -i`` reads the command from stdin: the key never appears in argv
            command = (f"add-generic-password -s {VAULT_KEY_NAME} -a practice-client -w "
                       f"{new_key_text().decode()} {SYSTEM_KEYCHAIN}\n")
            subprocess.run(["/usr/bin/security", "-i"], input=command.encode(),  # noqa: S603
                           capture_output=True, check=False, timeout=60)
            found = self._find()
        if found is None:
            raise SecretError(f"{SYSTEM_KEYCHAIN}: cannot read or add the vault key (run the service as root)")
        return _decode_key(found, SYSTEM_KEYCHAIN)

    @staticmethod
    def _find() -> bytes | None:
        result = subprocess.run(  # noqa: S603
            ["/usr/bin/security", "find-generic-password", "-s", VAULT_KEY_NAME, "-a", "practice-client",
             "-w", SYSTEM_KEYCHAIN], capture_output=True, check=False, timeout=60,
        )
        return result.stdout if result.returncode == 0 else None


def os_key_provider(service_dir: Path) -> KeyProvider:
    """The OS's store for services on this system."""
    if sys.platform == "win32":  # pragma: no cover - Windows only
        return WindowsDpapi(service_dir / "vault-key.dpapi")
    if sys.platform == "darwin":  # pragma: no cover - macOS only
        return SystemKeychain()
    return SystemdCredential()


class Vault:
    """The service's secrets (the interface of :class:`practice_client.core.secrets.Secrets`).
    Thread-safe; every change rewrites the sealed file atomically."""

    def __init__(self, path: Path, provider: KeyProvider) -> None:
        self.path = path
        self.service = f"vault:{path}"
        self._provider = provider
        self._lock = threading.Lock()
        self._aead: AESGCM | None = None

    def _cipher(self) -> AESGCM:
        if self._aead is None:
            self._aead = AESGCM(self._provider.vault_key())
        return self._aead

    def _load(self) -> dict[str, str]:
        try:
            blob = self.path.read_bytes()
        except FileNotFoundError:
            return {}
        if not blob.startswith(_MAGIC) or len(blob) < len(_MAGIC) + 12 + 16:
            raise SecretError(f"{self.path}: not a practice-client vault")
        nonce, sealed = blob[len(_MAGIC):len(_MAGIC) + 12], blob[len(_MAGIC) + 12:]
        try:
            values = json.loads(self._cipher().decrypt(nonce, sealed, _AAD))
        except InvalidTag:
            raise SecretError(f"{self.path}: the vault does not open with this machine's vault key "
                              f"({self._provider.description}): changed, or from another machine") from None
        if not isinstance(values, dict):
            raise SecretError(f"{self.path}: damaged vault")
        for value in values.values():
            register_sensitive(str(value))
        return {str(k): str(v) for k, v in values.items()}

    def _save(self, values: dict[str, str]) -> None:
        nonce = _random.token_bytes(12)
        sealed = self._cipher().encrypt(nonce, json.dumps(values, sort_keys=True).encode(), _AAD)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(self.path, _MAGIC + nonce + sealed)

    def get(self, name: str) -> str | None:
        with self._lock:
            return self._load().get(name)

    def require(self, name: str) -> str:
        value = self.get(name)
        if value is None:
            raise SecretError(f"the service's vault has no entry '{name}' (set up the practice or adopt a home)")
        return value

    def set(self, name: str, value: str) -> None:
        with self._lock:
            values = self._load()
            values[name] = value
            self._save(values)
        register_sensitive(value)
        log.debug("stored secret %s in the service vault", name)

    def delete(self, name: str) -> None:
        with self._lock:
            values = self._load()
            if values.pop(name, None) is not None:
                self._save(values)

    def get_or_create(self, name: str, nbytes: int = 32) -> str:
        with self._lock:
            values = self._load()
            if name not in values:
                values[name] = _random.token_urlsafe(nbytes)
                self._save(values)
            value = values[name]
        register_sensitive(value)
        return value

    def check(self) -> None:
        """Open the vault once (the key is there and fits): a clear error at start."""
        with self._lock:
            self._load()
            self._cipher()
