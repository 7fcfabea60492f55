"""A testbed party's own GnuPG home: the identity authority and each simulated patient.

Layout of ``directory``: ``gnupg/`` (the keys), ``passphrase`` (a fixed random
passphrase - acceptable only because these are test parties), and a small JSON
file with the party's metadata. Keep ``directory`` short (gpg-agent socket path).
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from practice_client.core.atomic import atomic_write
from practice_client.core.errors import InputError
from practice_client.crypto.gpg import Gpg, normalize_fingerprint


@dataclass(frozen=True)
class KeyHome:
    """One party's keys: its GnuPG home, primary fingerprint and key passphrase."""

    directory: Path
    gpg: Gpg
    fingerprint: str
    passphrase: str

    @classmethod
    def create(
        cls, directory: Path, meta_name: str, uid_name: str, uid_email: str, meta: dict[str, Any]
    ) -> tuple[KeyHome, dict[str, Any]]:
        """A new Ed25519 key (Curve25519 encryption subkey); refuses to overwrite a party."""
        directory = Path(directory)
        if (directory / meta_name).exists():
            raise InputError(directory, f"already holds a testbed party ({meta_name})")
        directory.mkdir(parents=True, exist_ok=True)
        passphrase = secrets.token_urlsafe(18)
        atomic_write(directory / "passphrase", passphrase.encode("ascii"))
        gpg = Gpg(directory / "gnupg")
        fingerprint = gpg.generate_key(uid_name, uid_email, passphrase, "ed25519")
        meta = {"fingerprint": fingerprint, **meta}
        atomic_write(directory / meta_name, json.dumps(meta, ensure_ascii=False, indent=2).encode())
        return cls(directory, gpg, fingerprint, passphrase), meta

    @classmethod
    def open(cls, directory: Path, meta_name: str) -> tuple[KeyHome, dict[str, Any]]:
        directory = Path(directory)
        try:
            meta = json.loads((directory / meta_name).read_text(encoding="utf-8"))
            passphrase = (directory / "passphrase").read_text(encoding="ascii").strip()
            fingerprint = normalize_fingerprint(str(meta["fingerprint"]))
        except (OSError, ValueError, KeyError, TypeError):
            raise InputError(directory, f"not a testbed party folder (missing or bad {meta_name})") from None
        return cls(directory, Gpg(directory / "gnupg"), fingerprint, passphrase), meta

    def public_key(self) -> str:
        return self.gpg.export_public(self.fingerprint)

    def close(self) -> None:
        """Stop this home's gpg-agent (it would outlive the caller)."""
        self.gpg.kill_agent()


class KeyHolder:
    """A testbed party that owns a :class:`KeyHome` (the authority, a patient)."""

    keys: KeyHome

    @property
    def fingerprint(self) -> str:
        return self.keys.fingerprint

    @property
    def directory(self) -> Path:
        return self.keys.directory

    def public_key(self) -> str:
        """The party's armored public key (for the authority: what ``setup --ident-key`` takes)."""
        return self.keys.public_key()
