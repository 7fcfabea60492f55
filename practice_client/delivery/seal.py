"""Seal a document for one patient: sign with the practice key, encrypt to the patient's.

*To seal* is sign-then-encrypt (OpenPGP); a sealed document is in the state
``encrypted``. The recipient is the patient's *pinned* key, checked by
:func:`~.recipients.recipient_pin` (the key that signed the accepted request); the
server's copy is only compared (:mod:`.key_check`).

gpg streams the document (memory does not grow with the file); its SHA-256 is
taken alongside, in a thread. The sealed document and manifest are written to the
spool atomically (temp + fsync + rename); their SHA-256 is the receipt. A large
document goes to the platform while gpg writes it (:class:`~.upload.StreamUpload`).
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import logging
import os
import shutil
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from practice_client.core.atomic import atomic_write, fsync_dir
from practice_client.core.audit import now_iso
from practice_client.core.errors import PracticeClientError
from practice_client.core.files import open_regular
from practice_client.core.models import Document
from practice_client.core.text import Text
from practice_client.crypto.patient_keys import recipient_file
from practice_client.delivery.key_check import KeyComparer, KeySource
from practice_client.delivery.recipients import recipient_pin, valid_request
from practice_client.delivery.sidecar import read_sidecar
from practice_client.delivery.spool import CIPHERTEXT, MANIFEST, ORIGINAL, SIDECAR, Spool
from practice_client.delivery.upload import Plan, StreamUpload

if TYPE_CHECKING:
    from practice_client.context import Context

log = logging.getLogger(__name__)

MANIFEST_VERSION = 1
HASH_CHUNK = 1024 * 1024
SPOOL_MARGIN_BYTES = 64 * 1024
SYNC_EVERY_BYTES = 64 * 1024 * 1024
TAIL_HASH_MIN_BYTES = 4 * 1024 * 1024


@dataclass(frozen=True)
class Sealed:
    """What encryption produced: the spool files and their digests (the receipt)."""

    ciphertext_sha256: str
    manifest_sha256: str
    plaintext_sha256: str
    size: int
    alert: bool


class _TailHasher(threading.Thread):
    """Hashes a file while gpg is still writing it (reading behind the writer, from the
    page cache), so the receipt costs no second pass over a large ciphertext; its
    growth is the encryption's progress."""

    def __init__(self, path: Path, total: int, progress: Callable[[int, int], None] | None) -> None:
        super().__init__(name="ciphertext-hash", daemon=True)
        self.path = path
        self.total = total
        self.progress = progress
        self.finished = threading.Event()  # set once the writer is done
        self.digest = hashlib.sha256()
        self.error: OSError | None = None

    def run(self) -> None:
        try:
            handle = None
            while handle is None:
                try:
                    handle = open(self.path, "rb")  # noqa: SIM115 - closed below
                except FileNotFoundError:
                    if self.finished.wait(0.005) and not self.path.exists():
                        return
            with handle:
                done = unsynced = 0
                while True:
                    writer_done = self.finished.is_set()  # read before the last drain
                    chunk = handle.read(HASH_CHUNK)
                    if chunk:
                        self.digest.update(chunk)
                        done += len(chunk)
                        unsynced += len(chunk)
                        if self.progress is not None:
                            self.progress(min(done, self.total), self.total)
                        # write back while gpg works, not all at once at the end
                        if unsynced >= SYNC_EVERY_BYTES and hasattr(os, "fdatasync"):
                            os.fdatasync(handle.fileno())
                            unsynced = 0
                    elif writer_done:
                        return
                    else:
                        self.finished.wait(0.005)
        except OSError as exc:
            self.error = exc

    def result(self) -> str:
        self.finished.set()
        self.join()
        if self.error is not None:
            raise self.error
        return self.digest.hexdigest()


class _Plaintext(threading.Thread):
    """SHA-256 and size of the original, taken from the caller's own no-follow handle
    in a thread while gpg reads the same file (one core hashes, the other encrypts)."""

    def __init__(self, handle: BinaryIO) -> None:
        super().__init__(name="plaintext-hash", daemon=True)
        self.handle = handle
        self.sha256 = ""
        self.size = 0
        self.error: OSError | None = None

    def run(self) -> None:
        try:
            self.sha256, self.size = sha256_handle(self.handle)
        except OSError as exc:
            self.error = exc

    def result(self) -> tuple[str, int]:
        self.join()
        if self.error is not None:
            raise self.error
        return self.sha256, self.size


def sha256_handle(handle: BinaryIO) -> tuple[str, int]:
    """SHA-256 and length of what is left to read in ``handle``."""
    digest = hashlib.sha256()
    size = 0
    while chunk := handle.read(HASH_CHUNK):
        digest.update(chunk)
        size += len(chunk)
    return digest.hexdigest(), size


def sha256_file(path: Path) -> str:
    with open(path, "rb") as handle:
        return sha256_handle(handle)[0]


def _identity(st: os.stat_result) -> tuple[int, int, int, int]:
    return st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns


def seal(ctx: Context, doc: Document, source: KeySource | None, comparer: KeyComparer,
         progress: Callable[[int, int], None] | None = None,
         stream: StreamUpload | None = None) -> Sealed:
    """Sign + encrypt the original and its manifest into the spool; ``progress(done, total)``
    follows the plaintext into gpg. With ``stream``, the ciphertext is uploaded as gpg
    writes it. MUST NOT run in a GUI thread."""
    assert doc.request_id is not None
    record = valid_request(ctx, doc.request_id)
    pin = recipient_pin(ctx, doc, record)  # the key that signed the accepted request, or KeyChanged
    patient = comparer.recipient(ctx, pin)
    alert = comparer.check(ctx, source, pin, patient, doc.document_id)
    practice_fpr = ctx.config.practice_key_fingerprint
    passphrase = comparer.passphrase(ctx)
    folder = Spool.of(ctx).folder(doc.document_id)
    with recipient_file(patient.armored, folder) as key_file:
        streaming = stream is not None and stream.prepare() is Plan.STREAM
        plaintext_sha256, size, ciphertext_sha256 = _seal_document(
            ctx, doc, key_file, passphrase, progress, stream if streaming else None)
        if size != doc.size and doc.size:
            log.info("document %s changed size since detection", doc.document_id)

        manifest = {
            "version": MANIFEST_VERSION, "document_id": doc.document_id, "request_id": record.request_id,
            "file_name": doc.original_name, "document_type": _document_type(folder / SIDECAR),
            "created_at": doc.extra.get("modified_at") or now_iso(), "sent_at": now_iso(),
            "sha256": plaintext_sha256, "size": size,
        }
        sealed_manifest = ctx.gpg.sign_encrypt_bytes(
            json.dumps(manifest, ensure_ascii=False, sort_keys=True).encode("utf-8"),
            [practice_fpr], practice_fpr, passphrase, "manifest.json", recipient_files=[key_file],
        )
    atomic_write(folder / MANIFEST, sealed_manifest)
    return Sealed(
        ciphertext_sha256=ciphertext_sha256,
        manifest_sha256=hashlib.sha256(sealed_manifest).hexdigest(),
        plaintext_sha256=plaintext_sha256, size=size, alert=alert,
    )


def _seal_document(
    ctx: Context, doc: Document, patient_key: Path, passphrase: str,
    progress: Callable[[int, int], None] | None, stream: StreamUpload | None,
) -> tuple[str, int, str]:
    """gpg from the spooled original to ``document.pgp`` (to the patient's key, read from
    ``patient_key``, and the practice's); the plaintext's SHA-256 and size, and the
    ciphertext's SHA-256."""
    spool = Spool.of(ctx)
    folder = spool.folder(doc.document_id)
    practice_fpr = ctx.config.practice_key_fingerprint
    original, ciphertext = folder / ORIGINAL, folder / CIPHERTEXT
    partial = spool.partial_ciphertext(doc.document_id)
    _require_space(folder, doc.size)
    # a small ciphertext is hashed after gpg: a thread tailing it would cost more than it saves
    hasher = _TailHasher(partial, doc.size, progress) if doc.size >= TAIL_HASH_MIN_BYTES else None
    with open_regular(original) as handle:
        before = _identity(os.fstat(handle.fileno()))
        plaintext = _Plaintext(handle)
        plaintext.start()
        if hasher is not None:
            hasher.start()
        if stream is not None:
            stream.start(partial)
        try:
            ctx.gpg.sign_encrypt_file(
                original, partial, [practice_fpr], practice_fpr, passphrase, doc.original_name,
                recipient_files=[patient_key],
            )
            if stream is not None:
                stream.finish()  # the rest of what gpg wrote goes out before the rename
            plaintext_sha256, size = plaintext.result()
            # gpg read the file by its name, the digest came from our handle: same bytes
            # only if it is the same file, unchanged (the spool is ours; this is a check)
            if _identity(os.stat(original, follow_symlinks=False)) != before or size != before[2]:
                raise PracticeClientError(Text(
                    f"{doc.original_name}: das Original hat sich während der Verschlüsselung geändert",
                    f"{doc.original_name}: the original changed during encryption",
                ))
            ciphertext_sha256 = hasher.result() if hasher is not None else sha256_file(partial)
            with open(partial, "rb+") as written:
                os.fsync(written.fileno())
            os.replace(partial, ciphertext)
            fsync_dir(folder)
        finally:
            if hasher is not None:
                hasher.finished.set()
            if stream is not None:
                stream.finish()
            plaintext.join()
            with contextlib.suppress(FileNotFoundError):
                partial.unlink()
    if progress is not None:
        progress(size, size)
    return plaintext_sha256, size, ciphertext_sha256


def _require_space(spool: Path, size: int) -> None:
    """gpg on a full disk fails with a vague message: say what is wrong before starting.
    The ciphertext is about the size of the original (no compression) plus headers."""
    needed = size + SPOOL_MARGIN_BYTES
    if shutil.disk_usage(spool).free < needed:
        raise OSError(errno.ENOSPC, "spool disk full", str(spool))


def _document_type(sidecar: Path) -> str | None:
    """GDT 6304 (file content description) when the PMS sent one; the type stays encrypted."""
    if not sidecar.exists():
        return None
    try:
        return read_sidecar(sidecar).get("6304") or None
    except PracticeClientError:
        return None
