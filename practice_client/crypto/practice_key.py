"""The practice's own OpenPGP key: it signs every delivered document.

Its passphrase is random and lives only in the OS keyring. Losing the key would
mean losing the practice's identity towards its patients, hence the encrypted
backup (:mod:`practice_client.crypto.backup`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from practice_client.core.errors import NotConfigured
from practice_client.core.secrets import PRACTICE_KEY_PASSPHRASE

if TYPE_CHECKING:
    from practice_client.context import Context


def ensure_practice_key(ctx: Context, practice_name: str, algorithm: str) -> tuple[str, bool]:
    """The practice key's fingerprint, created if missing. Returns (fingerprint, created)."""
    current = ctx.config.practice_key_fingerprint
    if current and ctx.gpg.has_secret_key(current):
        return current, False
    passphrase = ctx.secrets.get_or_create(PRACTICE_KEY_PASSPHRASE)
    fingerprint = ctx.gpg.generate_key(
        uid_name=practice_name, uid_email=f"{ctx.config.practice_id or 'practice'}@practice.invalid",
        passphrase=passphrase, algorithm=algorithm,
    )
    ctx.update_config(practice_key_fingerprint=fingerprint, key_algorithm=algorithm)
    ctx.store.record("key.created", fingerprint=fingerprint, algorithm=algorithm)
    return fingerprint, True


def practice_fingerprint(ctx: Context) -> str:
    fpr = ctx.config.practice_key_fingerprint
    if not fpr or not ctx.gpg.has_secret_key(fpr):
        raise NotConfigured(
            f"{ctx.home.gnupg}: no practice key - run 'practice-client setup' or 'key restore'"
        )
    return fpr


def export_public_key(ctx: Context) -> str:
    fpr = practice_fingerprint(ctx)
    armored = ctx.gpg.export_public(fpr)
    ctx.store.record("key.exported", fingerprint=fpr)
    return armored
