"""Encryption at rest for personal fields in the local database.

A stolen practice PC must not hand over patient names, birth dates, phone numbers,
file names or raw request messages. Each such field is sealed with AES-256-GCM
under the database key, which lives in the OS keyring, never on disk. The column
name is bound in as associated data so a value cannot be moved to another column.
"""

from __future__ import annotations

import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from practice_client.core.errors import SecretError

_VERSION = b"\x01"


class FieldCipher:
    def __init__(self, key: bytes) -> None:
        if len(key) != 32:
            raise SecretError("the database key in the keyring is not 32 bytes long")
        self._aead = AESGCM(key)

    def seal(self, column: str, value: bytes | str | None) -> bytes | None:
        if value is None:
            return None
        raw = value.encode("utf-8") if isinstance(value, str) else value
        nonce = os.urandom(12)
        return _VERSION + nonce + self._aead.encrypt(nonce, raw, column.encode("ascii"))

    def open_bytes(self, column: str, blob: bytes | None) -> bytes | None:
        if blob is None:
            return None
        if blob[:1] != _VERSION or len(blob) < 29:
            raise SecretError(f"database field '{column}' is damaged")
        try:
            return self._aead.decrypt(blob[1:13], blob[13:], column.encode("ascii"))
        except InvalidTag:
            raise SecretError(
                f"database field '{column}' cannot be decrypted: wrong database key in the keyring"
            ) from None

    def open(self, column: str, blob: bytes | None) -> str | None:
        raw = self.open_bytes(column, blob)
        return None if raw is None else raw.decode("utf-8")
