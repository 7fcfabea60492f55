"""A testbed party's own keys: the identity authority and each simulated patient.

Layout of ``directory``: the key material of the party's OpenPGP implementation
(:mod:`practice_client.testbed.implementations`: a GnuPG home ``gnupg/`` with a fixed
random ``passphrase`` file, Sequoia's ``key.pgp``, OpenPGP.js's ``secret.asc``, rnp's
``rnp/``) - acceptable only because these are test parties - and a small JSON file with
the party's metadata, including which implementation plays it. Keep ``directory`` short
(gpg-agent socket path).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from practice_client.core.atomic import atomic_write
from practice_client.core.errors import InputError
from practice_client.testbed.implementations import Opened, Tool, tool

# v4 fingerprints (40 hex) and, for parties that show what a v6 key does, v6 ones (64)
_FINGERPRINT = re.compile(r"^(?:[0-9A-F]{40}|[0-9A-F]{64})$")


@dataclass(frozen=True)
class KeyHome:
    """One party's keys, made and used by one OpenPGP implementation."""

    directory: Path
    tool: Tool
    fingerprint: str

    @property
    def implementation(self) -> str:
        return self.tool.name

    @classmethod
    def create(
        cls, directory: Path, meta_name: str, uid_name: str, uid_email: str, meta: dict[str, Any],
        implementation: str = "gnupg", key_type: str = "ed25519", structure: str = "default",
    ) -> tuple[KeyHome, dict[str, Any]]:
        """A new key of ``key_type`` and ``structure`` made by ``implementation``; refuses
        to overwrite a party, and to pretend: an implementation that cannot make the key
        (or is not installed) is a one-line error."""
        directory = Path(directory)
        if (directory / meta_name).exists():
            raise InputError(directory, f"already holds a testbed party ({meta_name})")
        party = tool(implementation, directory)
        why = party.missing() or party.cannot(key_type, structure)
        if why:
            raise InputError(f"--implementation {implementation}", why)
        fingerprint = party.generate(f"{uid_name} <{uid_email}>", key_type, structure)
        meta = {"fingerprint": fingerprint, "implementation": implementation, "key_type": key_type,
                "structure": structure, **meta}
        atomic_write(directory / meta_name, json.dumps(meta, ensure_ascii=False, indent=2).encode())
        return cls(directory, party, fingerprint), meta

    @classmethod
    def open(cls, directory: Path, meta_name: str) -> tuple[KeyHome, dict[str, Any]]:
        directory = Path(directory)
        try:
            meta = json.loads((directory / meta_name).read_text(encoding="utf-8"))
            fingerprint = str(meta["fingerprint"]).upper()
            implementation = str(meta.get("implementation", "gnupg"))  # folders from before: GnuPG
            if not _FINGERPRINT.match(fingerprint):
                raise ValueError(fingerprint)
            party = tool(implementation, directory, fingerprint)
        except (OSError, ValueError, KeyError, TypeError):
            raise InputError(directory, f"not a testbed party folder (missing or bad {meta_name})") from None
        return cls(directory, party, fingerprint), meta

    def public_key(self) -> str:
        return self.tool.public_key()

    def sign(self, data: bytes) -> bytes:
        return self.tool.sign(data)

    def clearsign(self, data: bytes) -> bytes:
        return self.tool.clearsign(data)

    def encrypt(self, data: bytes, recipient_key: str, sign: bool, filename: str) -> bytes:
        return self.tool.encrypt(data, recipient_key, sign, filename)

    def open_document(self, source: Path, output: Path, signer_key: str) -> Opened:
        return self.tool.open(source, output, signer_key)

    def close(self) -> None:
        """Stop what the implementation left running (a gpg-agent would outlive the caller)."""
        self.tool.close()


class KeyHolder:
    """A testbed party that owns a :class:`KeyHome` (the authority, a patient)."""

    keys: KeyHome

    @property
    def fingerprint(self) -> str:
        return self.keys.fingerprint

    @property
    def directory(self) -> Path:
        return self.keys.directory

    @property
    def implementation(self) -> str:
        return self.keys.implementation

    def public_key(self) -> str:
        """The party's armored public key (for the authority: what ``setup --ident-key`` takes)."""
        return self.keys.public_key()
