"""SECURITY.md's encrypted route: the security team's OpenPGP key in the repository is a
public key only, able to encrypt, and its fingerprint is the one SECURITY.md documents."""

from __future__ import annotations

import re
from pathlib import Path

from practice_client.crypto.gpg import group_fingerprint, inspect_keys

ROOT = Path(__file__).resolve().parents[1]
KEY = ROOT / "docs" / "security-team-public-key.asc"


def test_the_security_teams_key_is_public_can_encrypt_and_is_documented() -> None:
    armored = KEY.read_text(encoding="ascii")
    assert "PRIVATE KEY" not in armored and armored.startswith("-----BEGIN PGP PUBLIC KEY BLOCK-----")
    (key,) = inspect_keys(armored)
    assert key.usable_for_encryption and not key.revoked and not key.expired
    assert key.uids == ("Practice Client Security Team",)
    security = (ROOT / "SECURITY.md").read_text(encoding="utf-8")
    assert group_fingerprint(key.fingerprint) in security
    assert "docs/security-team-public-key.asc" in security
    assert re.search(r"expires?[^\n]*2029", security)
