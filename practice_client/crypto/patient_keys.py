"""Patients' keys never enter the client's GnuPG home.

A patient's key carries the patient's name in its user id, and whatever is imported into
a GnuPG home stays in ``pubring.kbx`` in plain text - even after ``--delete-keys``, which
only marks the record as deleted. A stolen disk must not list the practice's patients,
so a pinned key lives only in the (encrypted) database, inside the pinned trust
certificate, and goes to gpg only for the moment it is needed:

- to check it (expiry, revocation, encryption subkeys): in a throw-away home
  (:func:`~practice_client.crypto.gpg.inspect_keys`), removed right after;
- to encrypt to it: with gpg's ``--recipient-file``, fed from memory through a FIFO in
  the document's private spool folder (POSIX), so the key is never written to any disk;
  where there are no FIFOs (Windows), a private temporary file, removed right after.

gpg 2.2 refuses keys without a user id (``--import-filter keep-uid`` leaving none: "no
user ID"), also in ``--recipient-file``, so stripping the name is not an option.

Homes of earlier versions hold pinned keys: :func:`scrub_home` rebuilds their keybox once
with only the practice's and the platform identity key (the old file overwritten before
it is removed).
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import shutil
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from practice_client.core.atomic import atomic_write, fsync_dir
from practice_client.core.errors import CryptoError, TrustError
from practice_client.core.models import Pin
from practice_client.core.text import Text
from practice_client.crypto.gpg import KeyInfo, inspect_keys

if TYPE_CHECKING:
    from practice_client.context import Context

log = logging.getLogger(__name__)

SCRUBBED = ".no-patient-keys"  # marker in the GnuPG home: the keybox was rebuilt
KEYBOX = "pubring.kbx"
KEY_BLOCK_RE = re.compile(r"-----BEGIN PGP PUBLIC KEY BLOCK-----.*?-----END PGP PUBLIC KEY BLOCK-----", re.S)


@dataclass(frozen=True)
class PatientKey:
    """A pinned key checked usable: what gpg encrypts to (from a file, never imported)."""

    info: KeyInfo
    armored: str

    @property
    def fingerprint(self) -> str:
        return self.info.fingerprint


def recipient_key(pin: Pin) -> PatientKey:
    """The pinned key from the pinned trust certificate, with a usable encryption subkey -
    checked in a throw-away home, so the patient's name never enters the client's."""
    block = KEY_BLOCK_RE.search(pin.certificate)
    keys = inspect_keys(block.group(0)) if block else []
    if block is None or [k.fingerprint for k in keys] != [pin.fingerprint]:
        raise TrustError(f"{pin.fingerprint}: the pinned trust certificate holds no matching key")
    if not keys[0].usable_for_encryption:
        raise TrustError(Text(
            "der gepinnte Schlüssel hat keinen gültigen Verschlüsselungs-Unterschlüssel",
            "the pinned key has no usable encryption subkey",
        ).prefixed(f"{pin.fingerprint}: "))
    return PatientKey(keys[0], block.group(0))


@contextlib.contextmanager
def recipient_file(armored: str, folder: Path) -> Iterator[Path]:
    """A path gpg can read the key from (``--recipient-file``) as often as it opens it,
    for as long as the ``with`` block runs."""
    path = folder / f".recipient-{uuid.uuid4().hex[:12]}"
    data = armored.encode("ascii")
    if not hasattr(os, "mkfifo"):  # pragma: no cover - Windows
        atomic_write(path, data)
        try:
            yield path
        finally:
            path.unlink(missing_ok=True)
        return
    os.mkfifo(path, 0o600)
    feeder = _Feeder(path, data)
    feeder.start()
    try:
        yield path
    finally:
        feeder.finish()
        path.unlink(missing_ok=True)


class _Feeder(threading.Thread):
    """Writes the key to every reader that opens the FIFO, until finished."""

    def __init__(self, path: Path, data: bytes) -> None:
        super().__init__(name="recipient-key", daemon=True)
        self.path, self.data = path, data
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            try:
                fd = os.open(self.path, os.O_WRONLY)  # waits for a reader (gpg, or finish())
            except OSError:
                return
            try:
                if not self.done.is_set():
                    view = memoryview(self.data)
                    while view:
                        view = view[os.write(fd, view):]
            except BrokenPipeError:
                pass  # the reader went away early
            finally:
                os.close(fd)

    def finish(self) -> None:
        """Stop, also when the feeder waits for a reader that will never come: become
        that reader (and drain what it writes) until the thread has ended."""
        self.done.set()
        reader = os.open(self.path, os.O_RDONLY | os.O_NONBLOCK)
        try:
            while self.is_alive():
                with contextlib.suppress(BlockingIOError):
                    os.read(reader, 65536)
                self.join(0.01)
        finally:
            os.close(reader)


def scrub_home(ctx: Context) -> bool:
    """Once per home: rebuild its keybox with only the keys the client's own (the practice
    key, the platform identity key), so no patient's name is left in it. True if rebuilt."""
    home = ctx.home.gnupg
    keep = {f for f in (ctx.config.practice_key_fingerprint, ctx.config.ident_key_fingerprint) if f}
    if (home / SCRUBBED).exists() or len(keep) < 2 or not (home / KEYBOX).exists():
        return False
    from practice_client.crypto.gpg import Gpg

    gpg = ctx.gpg
    armored = [gpg.export_public(f) for f in sorted(keep)]
    for stale in home.glob(".rebuild-*"):  # a run that was interrupted
        shutil.rmtree(stale, ignore_errors=True)
    fresh = home / f".rebuild-{uuid.uuid4().hex[:6]}"
    builder = Gpg(fresh)
    try:
        for key in armored:
            builder.import_keys(key)
        if set(builder.fingerprints()) != keep:
            raise CryptoError(f"{home}: the keybox could not be rebuilt")
        old = home / f".{KEYBOX}.old"
        old.unlink(missing_ok=True)
        os.link(home / KEYBOX, old)  # the old records keep a name until they are overwritten
        os.replace(fresh / KEYBOX, home / KEYBOX)  # gpg sees the old keybox or the new, never none
        for stale in (old, home / f"{KEYBOX}~"):
            if stale.exists():
                _overwrite(stale)
                stale.unlink()
        fsync_dir(home)
    finally:
        builder.kill_agent()
        shutil.rmtree(fresh, ignore_errors=True)
    if not gpg.has_secret_key(ctx.config.practice_key_fingerprint):
        raise CryptoError(f"{home}: the practice key is not usable after the keybox was rebuilt")
    mark_clean(ctx)
    ctx.store.record("gnupg.patient_keys_removed", kept=sorted(keep))
    log.info("GnuPG home: keybox rebuilt without patients' keys")
    return True


def mark_clean(ctx: Context) -> None:
    """A home made by this version never held a patient's key: nothing to rebuild."""
    atomic_write(ctx.home.gnupg / SCRUBBED, b"patients' keys are not kept in this home\n")


def _overwrite(path: Path) -> None:
    """Zeros over the old keybox before it goes, so its blocks do not keep the names (on a
    plain disk; an SSD or a copy-on-write file system may still - disk encryption helps)."""
    size = path.stat().st_size
    with open(path, "r+b") as handle:
        handle.write(b"\0" * size)
        handle.flush()
        os.fsync(handle.fileno())
