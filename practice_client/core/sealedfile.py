"""Files sealed at rest: AES-256-GCM in chunks, so memory never grows with the file.

The spool keeps a document's original while the document waits - for staff to assign
it, or for a retry after it failed - sometimes for weeks. A stolen disk must not
show those originals, so a waiting original (and its GDT sidecar) is sealed under the
spool key (derived from the database key in the OS keyring; never on disk).

The construction is the segmented streaming AEAD of Hoang, Reyhanitabar, Rogaway and
Vizár ("Online authenticated-encryption and its nonce-reuse misuse-resistance", the
STREAM construction), as Tink's AES-GCM-HKDF streaming AEAD and age use it:

- a header: ``MAGIC`` and a random 32-byte salt; the file's own key is
  HKDF-SHA256(spool key, salt), so nonces never repeat across files;
- the plaintext in chunks of :data:`CHUNK` bytes (the last may be shorter, or empty);
  chunk *i* is AES-256-GCM with the nonce ``i`` (11 bytes, big-endian) followed by one
  byte that is 1 for the last chunk and 0 otherwise, and the header plus a *label* (what
  the file is: document id and part) as associated data.

So a chunk cannot be changed, moved, dropped or repeated, the file cannot be cut short
or extended, and a sealed file cannot pass for another document's: each of those fails
to open (:class:`~practice_client.core.errors.CryptoError`). Writes are atomic (temp
file, fsync, rename), so a crash leaves either no sealed file or a complete one.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Generator
from pathlib import Path
from typing import IO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from practice_client.core.atomic import atomic_writer
from practice_client.core.errors import CryptoError

MAGIC = b"PCSEAL1\n"
SALT = 32
CHUNK = 64 * 1024
TAG = 16
HEADER = len(MAGIC) + SALT


def derive_key(secret: bytes, purpose: bytes) -> bytes:
    """A 32-byte key for ``purpose`` from a master secret (HKDF-SHA256)."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose).derive(secret)


def _aead(key: bytes, salt: bytes) -> AESGCM:
    return AESGCM(HKDF(algorithm=hashes.SHA256(), length=32, salt=salt,
                       info=b"practice-client sealed file v1").derive(key))


def _nonce(index: int, last: bool) -> bytes:
    return index.to_bytes(11, "big") + (b"\x01" if last else b"\x00")


def seal_stream(key: bytes, source: IO[bytes], target: IO[bytes], label: bytes) -> None:
    """Write ``source`` sealed to ``target`` (chunk by chunk)."""
    salt = os.urandom(SALT)
    header = MAGIC + salt
    aead, associated = _aead(key, salt), header + label
    target.write(header)
    index, chunk = 0, source.read(CHUNK)
    while True:
        following = source.read(CHUNK) if len(chunk) == CHUNK else b""
        last = not following
        target.write(aead.encrypt(_nonce(index, last), chunk, associated))
        if last:
            return
        index, chunk = index + 1, following


def _chunks(key: bytes, source: IO[bytes], label: bytes) -> Generator[bytes, None, None]:
    """The plaintext chunks of a sealed stream, each checked before it is given out."""
    header = source.read(HEADER)
    if len(header) != HEADER or not header.startswith(MAGIC):
        raise CryptoError("a sealed spool file is damaged (no valid header)")
    aead, associated = _aead(key, header[len(MAGIC):]), header + label
    index, block = 0, source.read(CHUNK + TAG)
    while True:
        following = source.read(CHUNK + TAG) if len(block) == CHUNK + TAG else b""
        last = not following
        try:
            yield aead.decrypt(_nonce(index, last), block, associated)
        except InvalidTag:
            raise CryptoError(
                "a sealed spool file cannot be opened: it was changed, cut short, belongs to another "
                "document, or the database key in the keyring is not the one it was sealed with"
            ) from None
        if last:
            return
        index, block = index + 1, following


def unseal_stream(key: bytes, source: IO[bytes], target: IO[bytes], label: bytes) -> None:
    for chunk in _chunks(key, source, label):
        target.write(chunk)


def seal_file(key: bytes, plain: Path, sealed: Path, label: bytes) -> None:
    """``plain`` sealed as ``sealed`` (atomic; ``plain`` is left as it is)."""
    with open(plain, "rb") as source, atomic_writer(sealed) as target:
        seal_stream(key, source, target, label)


def unseal_file(key: bytes, sealed: Path, plain: Path, label: bytes) -> None:
    """``sealed`` opened as ``plain`` (atomic: a damaged file leaves no ``plain`` behind)."""
    with open(sealed, "rb") as source, atomic_writer(plain) as target:
        unseal_stream(key, source, target, label)


def unseal_bytes(key: bytes, sealed: Path, label: bytes, limit: int) -> bytes:
    """The plaintext of a small sealed file; CryptoError beyond ``limit`` bytes."""
    parts: list[bytes] = []
    size = 0
    with open(sealed, "rb") as source, contextlib.closing(_chunks(key, source, label)) as chunks:
        for chunk in chunks:
            size += len(chunk)
            if size > limit:
                raise CryptoError(f"a sealed spool file is larger than {limit} bytes")
            parts.append(chunk)
    return b"".join(parts)
