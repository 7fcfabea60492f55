"""Secrets in the OS keyring (Windows Credential Manager, macOS Keychain, Secret Service).

Never in files, never in logs. Entries are named per home (its instance id) so
two homes on one machine never share a passphrase or token. Errors tell the user
what is really wrong: no keyring, a locked keyring, or a missing entry.
"""

from __future__ import annotations

import contextlib
import logging
import secrets as _random
from collections.abc import Iterator

import keyring
import keyring.errors

from practice_client.core.errors import KeyringLocked, SecretError

log = logging.getLogger(__name__)

# Names of keyring entries (not secrets themselves).
PRACTICE_KEY_PASSPHRASE = "practice-key-passphrase"  # noqa: S105
PLATFORM_TOKEN = "platform-token"  # noqa: S105
DATABASE_KEY = "database-key"
AUDIT_KEY = "audit-key"  # keys the audit log's chain (core/audit.py)
IMAP_PASSWORD = "imap-password"  # noqa: S105


class Secrets:
    """The client's secrets for one home."""

    def __init__(self, instance_id: str) -> None:
        self.service = f"practice-client/{instance_id}"

    def _check_backend(self) -> None:
        backend = keyring.get_keyring()
        if type(backend).__module__.startswith("keyring.backends.fail"):
            raise SecretError(
                "Kein Schlüsselbund verfügbar / no OS keyring is available "
                "(install and unlock the system's keyring service)"
            )

    @contextlib.contextmanager
    def _backend(self) -> Iterator[None]:
        """One translation of keyring failures into what the user must do."""
        self._check_backend()
        try:
            yield
        except keyring.errors.KeyringLocked:
            raise KeyringLocked(
                "Der Schlüsselbund ist gesperrt / the OS keyring is locked: unlock it and try again"
            ) from None
        except keyring.errors.KeyringError as exc:
            raise SecretError(f"keyring error: {type(exc).__name__}") from None

    def get(self, name: str) -> str | None:
        with self._backend():
            value = keyring.get_password(self.service, name)
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
        with self._backend():
            keyring.set_password(self.service, name, value)
        log.debug("stored secret %s", name)  # the name only, never the value

    def delete(self, name: str) -> None:
        with self._backend(), contextlib.suppress(keyring.errors.PasswordDeleteError):
            keyring.delete_password(self.service, name)  # deleting what is not there is done

    def get_or_create(self, name: str, nbytes: int = 32) -> str:
        """A random secret, created on first use (passphrases, the database key)."""
        value = self.get(name)
        if value is None:
            value = _random.token_urlsafe(nbytes)
            self.set(name, value)
        return value
