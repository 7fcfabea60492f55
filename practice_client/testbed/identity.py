"""The platform's identity-verification service, as the testbed runs it.

After a (video) identification the platform signs an attestation: "the key with
this fingerprint belongs to this person with this phone number". The patient's
app bundles its public key with that attestation into the *trust certificate*
(DESIGN.md) the patient hands to the practice. The practice trusts the attestation
only because it is signed by this authority's key, configured at setup.

The platform's identity service need not run GnuPG either: the authority can be played
by any of :mod:`practice_client.testbed.implementations`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from practice_client.testbed.keyhome import KeyHolder, KeyHome

META = "authority.json"


@dataclass(frozen=True)
class IdentityAuthority(KeyHolder):
    keys: KeyHome

    @classmethod
    def create(cls, directory: Path, implementation: str = "gnupg", key_type: str = "ed25519") -> IdentityAuthority:
        keys, _ = KeyHome.create(
            directory, META, "Plattform Identitätsprüfung (Testbed)", "ident@testbed.invalid", {},
            implementation=implementation, key_type=key_type,
        )
        return cls(keys)

    @classmethod
    def open(cls, directory: Path) -> IdentityAuthority:
        keys, _ = KeyHome.open(directory, META)
        return cls(keys)

    def clearsign(self, payload: bytes) -> str:
        return self.keys.clearsign(payload).decode("utf-8")

    def issue(
        self,
        patient_public_key: str,
        *,
        fingerprint: str,
        name: str,
        birth_date: str,
        phone: str,
        ident: str = "video",
        issued_at: str | None = None,
    ) -> str:
        """A trust certificate: the patient's public key block, then the clearsigned
        attestation. Nothing is checked here - tests build hostile certificates with it."""
        attestation = {
            "version": 1,
            "fingerprint": fingerprint,
            "name": name,
            "birth_date": birth_date,
            "phone": phone,
            "ident": ident,
            "issued_at": issued_at or datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        payload = json.dumps(attestation, ensure_ascii=False, indent=2).encode("utf-8") + b"\n"
        return patient_public_key.strip() + "\n\n" + self.clearsign(payload)

    def close(self) -> None:
        self.keys.close()
