"""Secrets in the OS keyring (Windows Credential Manager, macOS Keychain, Secret Service).

Never in files, never in logs. Entries are named per home (its instance id) so
two homes on one machine never share a passphrase or token. Errors tell the user
what is really wrong: no keyring, a locked keyring, a keyring that does not protect
secrets, or a missing entry.

Only the operating systems' own keyrings are used (:data:`OS_BACKENDS`). keyring lets
``PYTHON_KEYRING_BACKEND``, a ``keyringrc.cfg`` or any installed plug-in choose another
backend - ``keyrings.alt``'s files keep the database key, the token and the passphrase
on disk in plain text or under a key beside them - so such a choice is refused, and a
chain of backends is narrowed to its OS members.
"""

from __future__ import annotations

import contextlib
import logging
import secrets as _random
from collections.abc import Iterator
from typing import Protocol

import keyring
import keyring.backend
import keyring.backends.chainer
import keyring.errors

from practice_client.core.errors import KeyringLocked, SecretError
from practice_client.core.text import Text

log = logging.getLogger(__name__)

# Names of keyring entries (not secrets themselves).
PRACTICE_KEY_PASSPHRASE = "practice-key-passphrase"  # noqa: S105
PLATFORM_TOKEN = "platform-token"  # noqa: S105
DATABASE_KEY = "database-key"
AUDIT_KEY = "audit-key"  # keys the audit log's chain (core/audit.py)
IMAP_PASSWORD = "imap-password"  # noqa: S105
PROXY_PASSWORD = "proxy-password"  # noqa: S105


# The OS keyrings: Secret Service (GNOME Keyring, KeePassXC...) and KWallet, Windows
# Credential Manager, macOS Keychain. Everything else (files, null, fail) is refused.
OS_BACKENDS = frozenset({
    "keyring.backends.SecretService.Keyring",
    "keyring.backends.libsecret.Keyring",
    "keyring.backends.kwallet.DBusKeyring",
    "keyring.backends.kwallet.DBusKeyringKWallet4",
    "keyring.backends.Windows.WinVaultKeyring",
    "keyring.backends.macOS.Keyring",
})


def backend_name(backend: keyring.backend.KeyringBackend) -> str:
    return f"{type(backend).__module__}.{type(backend).__qualname__}"


def os_keyring() -> keyring.backend.KeyringBackend:
    """The OS keyring keyring would use, or :class:`SecretError` saying why there is none."""
    chosen = keyring.get_keyring()
    members = (chosen.backends if isinstance(chosen, keyring.backends.chainer.ChainerBackend)
               else [chosen])
    for backend in members:  # a chain is sorted by priority: the first OS member is keyring's pick
        if backend_name(backend) in OS_BACKENDS:
            return backend
    name = ", ".join(backend_name(b) for b in members) or backend_name(chosen)
    if all(type(b).__module__.startswith("keyring.backends.fail") for b in members):
        raise SecretError(Text(
            "Kein Schlüsselbund verfügbar (den Schlüsselbund-Dienst des Systems installieren und entsperren)",
            "no OS keyring is available (install and unlock the system's keyring service)",
        ))
    raise SecretError(Text(
        f"Der Schlüsselbund {name} schützt Geheimnisse nicht: den Schlüsselbund des Systems verwenden "
        "(PYTHON_KEYRING_BACKEND entfernen, den Eintrag aus keyringrc.cfg löschen)",
        f"the keyring backend {name} does not protect secrets: use the OS keyring (unset "
        "PYTHON_KEYRING_BACKEND, remove the backend from keyringrc.cfg)",
    ))


class SecretStore(Protocol):
    """Where a home's secrets live: the user's OS keyring (:class:`Secrets`) or, for the
    practice service, its vault (:class:`practice_client.service.vault.Vault`)."""

    service: str

    def get(self, name: str) -> str | None: ...
    def require(self, name: str) -> str: ...
    def set(self, name: str, value: str) -> None: ...
    def delete(self, name: str) -> None: ...
    def get_or_create(self, name: str, nbytes: int = 32) -> str: ...


# Every entry a home may hold: what the practice service takes over when it adopts a home.
HOME_SECRETS = (DATABASE_KEY, AUDIT_KEY, PRACTICE_KEY_PASSPHRASE, PLATFORM_TOKEN, IMAP_PASSWORD, PROXY_PASSWORD)


class Secrets:
    """The client's secrets for one home."""

    def __init__(self, instance_id: str) -> None:
        self.service = f"practice-client/{instance_id}"

    @contextlib.contextmanager
    def _backend(self) -> Iterator[keyring.backend.KeyringBackend]:
        """The OS keyring, and one translation of its failures into what the user must do."""
        backend = os_keyring()
        try:
            yield backend
        except keyring.errors.KeyringLocked:
            raise KeyringLocked(Text(
                "Der Schlüsselbund ist gesperrt: entsperren und noch einmal versuchen",
                "the OS keyring is locked: unlock it and try again",
            )) from None
        except keyring.errors.KeyringError as exc:
            raise SecretError(f"keyring error: {type(exc).__name__}") from None

    def get(self, name: str) -> str | None:
        with self._backend() as backend:
            value = backend.get_password(self.service, name)
        return value

    def require(self, name: str) -> str:
        value = self.get(name)
        if value is None:
            raise SecretError(
                f"the keyring has no entry '{name}' for this installation "
                "(set up again or restore the key backup)"
            )
        return value

    def set(self, name: str, value: str) -> None:
        with self._backend() as backend:
            backend.set_password(self.service, name, value)
        log.debug("stored secret %s", name)  # the name only, never the value

    def delete(self, name: str) -> None:
        with self._backend() as backend, contextlib.suppress(keyring.errors.PasswordDeleteError):
            backend.delete_password(self.service, name)  # deleting what is not there is done

    def get_or_create(self, name: str, nbytes: int = 32) -> str:
        """A random secret, created on first use (passphrases, the database key)."""
        value = self.get(name)
        if value is None:
            value = _random.token_urlsafe(nbytes)
            self.set(name, value)
        return value
