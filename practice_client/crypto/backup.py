"""Encrypted backup and restore of the practice key.

Losing the practice key would mean losing the practice's identity towards its
patients (their apps pin it). The backup is one OpenPGP message, AES-256 under a
*recovery passphrase* (slow salted S2K), holding the armored secret key and the
key's own passphrase - so a restore needs nothing but the file and the recovery
passphrase. Encryption and decryption run in throw-away GnuPG homes: no agent
cache can make a wrong passphrase work, and the client's keyring is touched only
after the backup has been fully opened and checked.
"""

from __future__ import annotations

import json
import logging
import re
import secrets
from pathlib import Path
from typing import TYPE_CHECKING

from practice_client.core.atomic import atomic_write
from practice_client.core.errors import CryptoError, InputError, StateError
from practice_client.core.files import read_bounded
from practice_client.core.logs import register_sensitive
from practice_client.core.secrets import PRACTICE_KEY_PASSPHRASE
from practice_client.crypto.gpg import isolated, normalize_fingerprint
from practice_client.crypto.practice_key import practice_fingerprint

if TYPE_CHECKING:
    from practice_client.context import Context

log = logging.getLogger(__name__)

BUNDLE_TYPE = "practice-client-key-backup"
MAX_BACKUP_BYTES = 1024 * 1024
MIN_PASSPHRASE = 12
# 32 symbols without look-alikes (0/O, 1/I): 25 of them carry 125 bits.
CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
CODE_GROUPS, GROUP_SIZE = 5, 5


def generate_recovery_code() -> str:
    """A strong random passphrase in groups of five, easy to write down and type."""
    symbols = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_GROUPS * GROUP_SIZE))
    return "-".join(symbols[i : i + GROUP_SIZE] for i in range(0, len(symbols), GROUP_SIZE))


def _candidates(passphrase: str) -> list[str]:
    """The passphrase as typed and, if it looks like a recovery code typed with other
    spacing or case, its canonical form."""
    compact = re.sub(r"[\s-]+", "", passphrase).upper()
    options = [passphrase]
    if len(compact) == CODE_GROUPS * GROUP_SIZE and all(c in CODE_ALPHABET for c in compact):
        canonical = "-".join(compact[i : i + GROUP_SIZE] for i in range(0, len(compact), GROUP_SIZE))
        if canonical != passphrase:
            options.append(canonical)
    return options


def check_passphrase(passphrase: str) -> str:
    if len(passphrase) < MIN_PASSPHRASE:
        raise InputError("--passphrase-stdin", f"the backup passphrase needs at least {MIN_PASSPHRASE} characters")
    return passphrase


def create_backup(ctx: Context, path: Path, passphrase: str) -> str:
    """Write the encrypted backup atomically; returns the key's fingerprint."""
    check_passphrase(passphrase)
    register_sensitive(passphrase)
    fingerprint = practice_fingerprint(ctx)
    key_passphrase = ctx.practice_passphrase()
    bundle = {
        "type": BUNDLE_TYPE, "version": 1, "fingerprint": fingerprint,
        "passphrase": key_passphrase, "secret_key": ctx.gpg.export_secret(fingerprint, key_passphrase),
    }
    with isolated() as gpg:
        sealed = gpg.encrypt_symmetric(json.dumps(bundle).encode("utf-8"), passphrase)
    try:
        atomic_write(Path(path), sealed)
    except OSError as exc:
        raise InputError(path, f"cannot write the backup: {exc.strerror}") from None
    ctx.store.record("key.backup_created", fingerprint=fingerprint)
    log.info("key backup written for %s", fingerprint)
    return fingerprint


def _open(path: Path, passphrase: str) -> dict[str, str]:
    """Decrypt and check the bundle, without touching the client's home."""
    sealed = read_bounded(path, MAX_BACKUP_BYTES, "practice key backup")
    if b"-----BEGIN PGP MESSAGE-----" not in sealed:
        raise InputError(path, "not a practice key backup")
    plain = None
    for candidate in _candidates(passphrase):
        with isolated() as gpg:
            try:
                plain = gpg.decrypt_symmetric(sealed, candidate)
                break
            except CryptoError:
                continue
    if plain is None:
        raise InputError(path, "wrong recovery passphrase or damaged backup: nothing was changed")
    try:
        bundle = json.loads(plain.decode("utf-8"))
        if bundle.get("type") != BUNDLE_TYPE or bundle.get("version") != 1:
            raise ValueError("unknown bundle")
        fields = {k: str(bundle[k]) for k in ("fingerprint", "passphrase", "secret_key")}
        fields["fingerprint"] = normalize_fingerprint(fields["fingerprint"])
    except (UnicodeDecodeError, ValueError, KeyError, AttributeError, CryptoError):
        raise InputError(path, "the backup's content is damaged") from None
    register_sensitive(fields["passphrase"])
    with isolated() as gpg:  # the key must be the one named, and its passphrase must unlock it
        try:
            imported = gpg.import_secret(fields["secret_key"], fields["passphrase"])
            gpg.sign(b"restore check", fields["fingerprint"], fields["passphrase"])
        except CryptoError:
            imported = []
        if imported != [fields["fingerprint"]]:
            raise InputError(path, "the backup's key is damaged or does not match its passphrase")
    return fields


def restore_backup(ctx: Context, path: Path, passphrase: str) -> str:
    """Import the practice key from a backup; returns its fingerprint. On any refusal
    (wrong passphrase, damaged file, a different key already here) nothing changes."""
    bundle = _open(Path(path), passphrase)
    fingerprint = bundle["fingerprint"]
    current = ctx.config.practice_key_fingerprint
    if current and current != fingerprint and ctx.gpg.has_secret_key(current):
        raise StateError(
            f"{ctx.home.gnupg}: this installation already has another practice key {current}"
        )
    if not ctx.gpg.has_secret_key(fingerprint):  # restoring twice is not an error
        ctx.gpg.import_secret(bundle["secret_key"], bundle["passphrase"])
    ctx.secrets.set(PRACTICE_KEY_PASSPHRASE, bundle["passphrase"])
    ctx.update_config(practice_key_fingerprint=fingerprint)
    ctx.store.record("key.restored", fingerprint=fingerprint)
    log.info("practice key %s restored from backup", fingerprint)
    return fingerprint
