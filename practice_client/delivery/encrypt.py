"""Sign-then-encrypt a document and its manifest for one patient.

The recipient key is the patient's *pinned* key (from the trust certificate staff
verified), never the server's. The server's copy is fetched only to compare: a
mismatch is audited and raised as an alert - it blocks nothing, and the server's
key is never imported or used.

gpg streams the document (memory does not grow with the file); its SHA-256 is
taken alongside, in a thread. Ciphertexts are written to the spool atomically
(temp + fsync + rename); their SHA-256 is the receipt. A large document's ciphertext
goes to the platform while gpg writes it (:mod:`.streaming`).
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
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Protocol

from practice_client.core.atomic import atomic_write, fsync_dir
from practice_client.core.audit import now_iso
from practice_client.core.errors import NetworkError, PracticeClientError
from practice_client.core.files import open_regular
from practice_client.core.models import Document, Pin
from practice_client.crypto.gpg import KeyInfo, inspect_keys
from practice_client.crypto.patient_keys import PatientKey, recipient_file, recipient_key
from practice_client.delivery.outbox import (
    CIPHERTEXT,
    MANIFEST,
    ORIGINAL,
    SIDECAR,
    open_request,
    recipient_pin,
    spool_of,
)
from practice_client.delivery.sidecar import read_sidecar
from practice_client.delivery.streaming import DocumentStream, Plan

if TYPE_CHECKING:
    from practice_client.context import Context

log = logging.getLogger(__name__)

MANIFEST_VERSION = 1
ALERTS_META = "alerts.server_key_mismatch"
COMPARE_TTL_SECONDS = 300.0
HASH_CHUNK = 1024 * 1024
SPOOL_MARGIN_BYTES = 64 * 1024
SYNC_EVERY_BYTES = 64 * 1024 * 1024
TAIL_HASH_MIN_BYTES = 4 * 1024 * 1024


class KeySource(Protocol):
    def patient_key(self, fingerprint: str) -> str | None: ...


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


class KeyComparer:
    """Per pipeline: compares the server's copy of patient keys with the pins (at most every
    few minutes), and remembers what every document would otherwise ask gpg and the keyring
    again (the practice key's passphrase, which pinned keys were checked usable)."""

    def __init__(self) -> None:
        self._checked: dict[str, tuple[float, bool]] = {}
        self._usable: dict[str, tuple[float, PatientKey]] = {}
        self._passphrase: str | None = None
        self._lock = threading.Lock()

    def passphrase(self, ctx: Context) -> str:
        with self._lock:
            if self._passphrase is None:
                self._passphrase = ctx.practice_passphrase()
            return self._passphrase

    def recipient(self, ctx: Context, pin: Pin) -> PatientKey:
        """:func:`recipient_key`, re-checked every few minutes (expiry, revocation)."""
        with self._lock:
            cached = self._usable.get(pin.fingerprint)
        if cached and time.monotonic() - cached[0] < COMPARE_TTL_SECONDS:
            return cached[1]
        key = recipient_key(pin)
        with self._lock:
            self._usable[pin.fingerprint] = (time.monotonic(), key)
        return key

    def check(self, ctx: Context, source: KeySource | None, pin: Pin, pinned: PatientKey,
              document_id: str) -> bool:
        """True when the server's copy differs from the pin (the alert is recorded)."""
        if source is None:
            return False
        with self._lock:
            cached = self._checked.get(pin.fingerprint)
        if cached and time.monotonic() - cached[0] < COMPARE_TTL_SECONDS:
            return cached[1]
        try:
            served = source.patient_key(pin.fingerprint)
        except NetworkError:
            log.info("server copy of key %s not reachable; compared later", pin.fingerprint)
            return False
        mismatch = False
        if served is not None:
            mismatch = not same_key(pinned.info, served)
        with self._lock:
            self._checked[pin.fingerprint] = (time.monotonic(), mismatch)
        if mismatch:
            served_fprs = [k.fingerprint for k in inspect_keys(served or "")]
            ctx.store.record(
                "alert.server_key_mismatch", document_id=document_id, fingerprint=pin.fingerprint,
                patient_number=pin.patient_number, server_fingerprints=served_fprs,
            )
            raise_alert(ctx, pin.fingerprint)
            log.warning("ALERT: the server's copy of key %s differs from the pin", pin.fingerprint)
        return mismatch


def same_key(pinned: KeyInfo, served: str) -> bool:
    """The served key is the pinned key with the same usable encryption subkeys.

    Parsed in a throw-away home: the served key never enters the client's keyring."""
    served_keys = inspect_keys(served)
    if len(served_keys) != 1:
        return False
    other = served_keys[0]
    return other.fingerprint == pinned.fingerprint and set(other.encryption_subkeys) == set(
        pinned.encryption_subkeys
    )


def raise_alert(ctx: Context, fingerprint: str) -> None:
    current = set(alerts(ctx))
    current.add(fingerprint)
    ctx.store.set_meta(ALERTS_META, json.dumps(sorted(current)))


def alerts(ctx: Context) -> list[str]:
    """Fingerprints whose server copy differed from the pin (shown by the GUI and ``outbox``)."""
    raw = ctx.store.get_meta(ALERTS_META)
    return list(json.loads(raw)) if raw else []


def seal(ctx: Context, doc: Document, source: KeySource | None, comparer: KeyComparer,
         progress: Callable[[int, int], None] | None = None,
         stream: DocumentStream | None = None) -> Sealed:
    """Sign + encrypt the original and its manifest into the spool; ``progress(done, total)``
    follows the plaintext into gpg. With ``stream``, the ciphertext is uploaded as gpg
    writes it. MUST NOT run in a GUI thread."""
    assert doc.request_id is not None
    record = open_request(ctx, doc.request_id)
    pin = recipient_pin(ctx, doc, record)  # the key that signed the accepted request, or KeyChanged
    patient = comparer.recipient(ctx, pin)
    alert = comparer.check(ctx, source, pin, patient, doc.document_id)
    practice_fpr = ctx.config.practice_key_fingerprint
    passphrase = comparer.passphrase(ctx)
    spool = spool_of(ctx, doc.document_id)
    with recipient_file(patient.armored, spool) as key_file:
        plan = stream.prepare() if stream is not None else Plan.PLAIN
        plaintext_sha256, size, ciphertext_sha256 = _encrypt_document(
            ctx, doc, key_file, passphrase, progress, stream if plan is Plan.STREAM else None)
        if size != doc.size and doc.size:
            log.info("document %s changed size since detection", doc.document_id)

        manifest = {
            "version": MANIFEST_VERSION, "document_id": doc.document_id, "request_id": record.request_id,
            "file_name": doc.original_name, "document_type": _document_type(spool / SIDECAR),
            "created_at": doc.extra.get("modified_at") or now_iso(), "sent_at": now_iso(),
            "sha256": plaintext_sha256, "size": size,
        }
        sealed_manifest = ctx.gpg.sign_encrypt_bytes(
            json.dumps(manifest, ensure_ascii=False, sort_keys=True).encode("utf-8"),
            [practice_fpr], practice_fpr, passphrase, "manifest.json", recipient_files=[key_file],
        )
    atomic_write(spool / MANIFEST, sealed_manifest)
    return Sealed(
        ciphertext_sha256=ciphertext_sha256,
        manifest_sha256=hashlib.sha256(sealed_manifest).hexdigest(),
        plaintext_sha256=plaintext_sha256, size=size, alert=alert,
    )


def _encrypt_document(
    ctx: Context, doc: Document, patient_key: Path, passphrase: str,
    progress: Callable[[int, int], None] | None, stream: DocumentStream | None,
) -> tuple[str, int, str]:
    """gpg from the spooled original to ``document.pgp`` (to the patient's key, read from
    ``patient_key``, and the practice's); the plaintext's SHA-256 and size, and the
    ciphertext's SHA-256."""
    spool = spool_of(ctx, doc.document_id)
    practice_fpr = ctx.config.practice_key_fingerprint
    original, ciphertext = spool / ORIGINAL, spool / CIPHERTEXT
    # A unique name per attempt: a gpg orphaned by a killed run may still be writing its own.
    partial = spool / f".{CIPHERTEXT}.{uuid.uuid4().hex}.tmp"
    for stale in spool.glob(f".{CIPHERTEXT}.*.tmp"):
        stale.unlink(missing_ok=True)
    _require_space(spool, doc.size)
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
                raise PracticeClientError(
                    f"{doc.original_name}: das Original hat sich während der Verschlüsselung "
                    "geändert / the original changed during encryption"
                )
            ciphertext_sha256 = hasher.result() if hasher is not None else sha256_file(partial)
            with open(partial, "rb+") as written:
                os.fsync(written.fileno())
            os.replace(partial, ciphertext)
            fsync_dir(spool)
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
