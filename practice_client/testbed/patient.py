"""The simulated patient app: the patient's own keys, trust certificate, signatures
and the decryption of delivered documents - what a real patient's app does, so the
tests and the demo exercise the client against an independent party.

Patients' apps are built on many OpenPGP implementations: the simulated one can be
played by any of :mod:`practice_client.testbed.implementations` (GnuPG, Sequoia,
OpenPGP.js, rnp), with the key type and layout that implementation makes.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from practice_client.testbed.identity import IdentityAuthority
from practice_client.testbed.keyhome import KeyHolder, KeyHome

META = "patient.json"


@dataclass(frozen=True)
class SimulatedPatient(KeyHolder):
    keys: KeyHome
    name: str
    birth_date: str
    phone: str

    @classmethod
    def create(
        cls, directory: Path, name: str, birth_date: str, phone: str, *,
        implementation: str = "gnupg", key_type: str = "ed25519", structure: str = "default",
    ) -> SimulatedPatient:
        """A new patient whose app runs on ``implementation`` (by default GnuPG with an
        Ed25519 signing key and a Curve25519 encryption subkey)."""
        keys, _ = KeyHome.create(
            directory, META, name, "patient@testbed.invalid",
            {"name": name, "birth_date": birth_date, "phone": phone},
            implementation=implementation, key_type=key_type, structure=structure,
        )
        return cls(keys, name, birth_date, phone)

    @classmethod
    def open(cls, directory: Path) -> SimulatedPatient:
        keys, meta = KeyHome.open(directory, META)
        return cls(keys, str(meta.get("name", "")), str(meta.get("birth_date", "")),
                   str(meta.get("phone", "")))

    def sign(self, data: bytes) -> bytes:
        """A detached ASCII-armored signature over exactly ``data`` (the request's consent)."""
        return self.keys.sign(data)

    def trust_certificate(self, authority: IdentityAuthority) -> str:
        """What the patient's app hands to the practice after identification."""
        return authority.issue(
            self.public_key(), fingerprint=self.fingerprint, name=self.name,
            birth_date=self.birth_date, phone=self.phone,
        )

    def decrypt(
        self, ciphertext: Path | bytes, output: Path | None, practice_public_key: str
    ) -> tuple[bytes, str, bool]:
        """Open a delivered document: (plaintext - empty when written to ``output`` -,
        the literal packet's file name where the app reports it, whether the practice key
        validly signed it). Raises :class:`CryptoError` when the app cannot decrypt it.

        ``output`` is replaced atomically; the plaintext never lands anywhere else."""
        with tempfile.TemporaryDirectory(prefix=".decrypt.", dir=output.parent if output else None) as scratch:
            source = ciphertext if isinstance(ciphertext, Path) else Path(scratch) / "in.pgp"
            if not isinstance(ciphertext, Path):
                source.write_bytes(ciphertext)
            target = Path(scratch) / "plaintext"
            try:
                opened = self.keys.open_document(source, target, practice_public_key)
                if output is None:
                    return target.read_bytes(), opened.name, opened.signed
                os.replace(target, output)
            finally:
                with contextlib.suppress(FileNotFoundError):
                    target.unlink()
            return b"", opened.name, opened.signed

    def read_decision(self, message: str, practice_public_key: str) -> tuple[dict[str, object], bool]:
        """What the patient's app shows for a declined request: the decision JSON the
        practice encrypted to the patient (the ``reason`` the platform relays), and whether
        the practice key validly signed it."""
        data, _, signed = self.decrypt(message.encode("ascii"), None, practice_public_key)
        return json.loads(data), signed

    def share(
        self, data: bytes, file_name: str, practice_key: str, practice_id: str, *,
        document_type: str | None = None, document_date: str | None = None, signed: bool = True,
        claimed_fingerprint: str | None = None, share_id: str | None = None,
        manifest_changes: Mapping[str, object] | None = None,
    ) -> SharedDocument:
        """What the patient's app uploads to share a document with the practice: the document
        and its manifest (docs/formats.md), each signed by the patient's key (unless
        ``signed`` is False - an attack) and encrypted to the practice's key.
        ``claimed_fingerprint`` lets a test claim another patient's key in the manifest;
        ``manifest_changes`` make the genuinely signed manifest say something else (another
        share id, practice, digest or size) - what a platform that swaps or replays shares
        would need the patient to have signed."""
        share_id = share_id or str(uuid.uuid4())
        manifest = {
            "version": 1, "share_id": share_id, "practice_id": practice_id,
            "patient_fingerprint": claimed_fingerprint or self.fingerprint, "file_name": file_name,
            "document_type": document_type, "document_date": document_date,
            "shared_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "sha256": hashlib.sha256(data).hexdigest(), "size": len(data),
            **(manifest_changes or {}),
        }
        text = json.dumps(manifest, ensure_ascii=False, sort_keys=True).encode("utf-8")
        return SharedDocument(
            share_id, self.keys.encrypt(data, practice_key, signed, file_name),
            self.keys.encrypt(text, practice_key, signed, "manifest.json"),
        )

    def close(self) -> None:
        self.keys.close()


@dataclass(frozen=True)
class SharedDocument:
    """A share as the patient's app uploads it: two opaque messages under a random id."""

    share_id: str
    document: bytes
    manifest: bytes
