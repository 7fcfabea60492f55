"""The simulated patient app: the patient's own keys, trust certificate, signatures
and the decryption of delivered documents - what a real patient's app does, so the
tests and the demo exercise the client against an independent party."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from practice_client.crypto.gpg import isolated
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
    def create(cls, directory: Path, name: str, birth_date: str, phone: str) -> SimulatedPatient:
        """A new patient with an Ed25519 signing key and a Curve25519 encryption subkey."""
        keys, _ = KeyHome.create(
            directory, META, name, "patient@testbed.invalid",
            {"name": name, "birth_date": birth_date, "phone": phone},
        )
        return cls(keys, name, birth_date, phone)

    @classmethod
    def open(cls, directory: Path) -> SimulatedPatient:
        keys, meta = KeyHome.open(directory, META)
        return cls(keys, str(meta.get("name", "")), str(meta.get("birth_date", "")),
                   str(meta.get("phone", "")))

    def sign(self, data: bytes) -> bytes:
        """A detached ASCII-armored signature over exactly ``data`` (the request's consent)."""
        return self.keys.gpg.sign(data, self.fingerprint, self.keys.passphrase)

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
        the literal packet's file name, whether the practice key validly signed it).

        The encryption layer comes off with the patient's key; the signature inside is
        checked in a throw-away home holding only ``practice_public_key``, so no other
        key can make it look valid. ``output`` is replaced atomically."""
        with isolated([practice_public_key]) as verifier:
            inner = verifier.home / "inner.pgp"
            self.keys.gpg.unwrap(ciphertext, inner, self.keys.passphrase)
            if output is None:
                data, check, name = verifier.open_signed(inner)
                return data, name, check.valid
            fd, tmp_name = tempfile.mkstemp(prefix=".decrypt.", dir=Path(output).parent)
            os.close(fd)
            tmp = Path(tmp_name)
            try:
                _, check, name = verifier.open_signed(inner, tmp)
                os.replace(tmp, output)
            finally:
                with contextlib.suppress(FileNotFoundError):
                    tmp.unlink()
            return b"", name, check.valid

    def read_decision(self, message: str, practice_public_key: str) -> tuple[dict[str, object], bool]:
        """What the patient's app shows for a declined request: the decision JSON the
        practice encrypted to the patient (the ``reason`` the platform relays), and whether
        the practice key validly signed it."""
        data, _, signed = self.decrypt(message.encode("ascii"), None, practice_public_key)
        return json.loads(data), signed

    def close(self) -> None:
        self.keys.close()
