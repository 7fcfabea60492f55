"""Encryption at rest for personal fields in the local database.

A stolen practice PC must not hand over patient names, birth dates, phone numbers,
file names or raw request messages. Each such field is sealed with AES-256-GCM
under the database key, which lives in the OS keyring, never on disk.

The associated data binds a sealed value to its place: the column *and the row's
key* (patient number, fingerprint, message digest, document id). Whoever can write
the database file but does not hold the key can therefore neither move a value to
another column nor to another row - swapping two patients' names, or giving one
request's summary to another, makes both unreadable instead of silently wrong.

Version 1 (the first releases) bound only the column. Its values are re-sealed by a
schema migration (:mod:`practice_client.core.migrations`) and are refused everywhere
else, so a version-1 value copied back from an old backup cannot slip in either.

A sealed field cannot be searched. Where a lookup must not read every row (the patients
born on one day, for matching a document), the row also carries a *blind index*
(:meth:`FieldCipher.blind`): an HMAC-SHA256 of the value under a key derived from the
database key for that purpose only (never the sealing key). Without the key it shows
which rows share a value, not the value.
"""

from __future__ import annotations

import hashlib
import hmac
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from practice_client.core.errors import SecretError
from practice_client.core.sealedfile import derive_key

_V1 = b"\x01"  # associated data: the column name only (read by the migration, never written)
_V2 = b"\x02"  # associated data: version, column, NUL, row key
_NONCE = 12
_MIN_LENGTH = 1 + _NONCE + 16
BLIND_PURPOSE = b"practice-client blind index v1"


def _bound(column: str, row: str) -> bytes:
    return _V2 + column.encode("ascii") + b"\x00" + row.encode("utf-8")


class FieldCipher:
    def __init__(self, key: bytes) -> None:
        if len(key) != 32:
            raise SecretError("the database key in the keyring is not 32 bytes long")
        self._aead = AESGCM(key)
        self._blind = derive_key(key, BLIND_PURPOSE)

    def blind(self, column: str, value: str) -> bytes:
        """The blind index of ``value`` in ``column``: equal values of one column give equal
        tags, so a row is found by an indexed lookup; the column is part of the input, so a
        tag says nothing about another column's values."""
        message = column.encode("ascii") + b"\x00" + value.encode("utf-8")
        return hmac.new(self._blind, message, hashlib.sha256).digest()

    def seal(self, column: str, row: str, value: bytes | str | None) -> bytes | None:
        """``value`` sealed for ``column`` of the row whose key is ``row``."""
        if value is None:
            return None
        raw = value.encode("utf-8") if isinstance(value, str) else value
        nonce = os.urandom(_NONCE)
        return _V2 + nonce + self._aead.encrypt(nonce, raw, _bound(column, row))

    def open_bytes(self, column: str, row: str, blob: bytes | None) -> bytes | None:
        if blob is None:
            return None
        if blob[:1] != _V2 or len(blob) < _MIN_LENGTH:
            raise SecretError(f"database field '{column}' of row {row} is damaged or from an old version")
        return self._open(blob, _bound(column, row), column, row)

    def open(self, column: str, row: str, blob: bytes | None) -> str | None:
        raw = self.open_bytes(column, row, blob)
        return None if raw is None else raw.decode("utf-8")

    def open_v1(self, column: str, row: str, blob: bytes) -> bytes:
        """A value sealed by the first releases (column-only binding). Only the schema
        migration that re-seals them calls this."""
        if blob[:1] != _V1 or len(blob) < _MIN_LENGTH:
            raise SecretError(f"database field '{column}' of row {row} is damaged")
        return self._open(blob, column.encode("ascii"), column, row)

    def _open(self, blob: bytes, associated: bytes, column: str, row: str) -> bytes:
        try:
            return self._aead.decrypt(blob[1 : 1 + _NONCE], blob[1 + _NONCE :], associated)
        except InvalidTag:
            raise SecretError(
                f"database field '{column}' of row {row} cannot be decrypted: the wrong database key "
                "in the keyring, or the value was moved from another row"
            ) from None
