"""Decrypt a share with the practice key and verify who signed it.

The rule: a share is the patient's only when its manifest *and* its document are signed
by the key pinned for the patient the manifest names. The manifest's claim
(``patient_fingerprint``) only chooses which pinned key to check against - it is never
trusted alone:

1. the encryption layer comes off with the practice key (:meth:`Gpg.unwrap`) - a share
   not encrypted to it is ``not_for_us``;
2. the manifest's claim is read (bounded, 64 KiB) - in the client's own home, which holds
   no patient's key, so nothing there can verify it; the claim names a fingerprint;
3. the pin of that fingerprint: none is ``unpinned_signer``; its key from the pinned trust
   certificate (never imported into the client's home: :mod:`crypto.patient_keys`);
4. manifest and document are verified in a throw-away home holding only that key, so no
   other key can make them look valid: no signature is ``unsigned``, another key
   ``wrong_signer`` (an unknown key, or another patient's), a broken one ``bad_signature``;
5. the manifest must be this share's (its id), for this practice (whose own id must be
   configured), and describe exactly this document (SHA-256 and size) - else
   ``manifest_mismatch`` with the field as its detail: the platform cannot pair one
   share's manifest with another's document, nor replay a share under a new id.

gpg writes the plaintext only into the share's private work folder, stopped past the
size limit (``--max-output``: a compressed message can unpack to any size).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from practice_client.core.errors import CryptoError
from practice_client.core.text import Text
from practice_client.crypto.gpg import SignatureCheck, isolated
from practice_client.crypto.patient_keys import KEY_BLOCK_RE

if TYPE_CHECKING:
    from practice_client.context import Context

MAX_MANIFEST_BYTES = 64 * 1024
DOCUMENT, MANIFEST = "share.pgp", "manifest.pgp"
_HEX40 = re.compile(r"^[0-9A-F]{40}$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class Verification:
    """The outcome: ``reason`` None when verified. Identifiers only, besides ``manifest``
    (which the store seals)."""

    reason: str | None
    detail: str | Text = ""  # what was found: an identifier, a tool's words, or staff's text
    claimed_fingerprint: str | None = None
    fingerprint: str | None = None
    patient_number: str | None = None
    manifest: dict[str, Any] = field(default_factory=dict)
    sha256: str | None = None
    size: int | None = None


def verify_share(ctx: Context, share_id: str, folder: Path, work: Path, max_bytes: int) -> Verification:
    """Check a downloaded share (``folder`` holds both ciphertexts); the plaintext stays in
    ``work`` (the caller removes it). MUST NOT run in the GUI thread (gpg)."""
    passphrase = ctx.practice_passphrase()
    inner_manifest, inner_document = work / "manifest.inner", work / "document.inner"
    try:
        ctx.gpg.unwrap(folder / MANIFEST, inner_manifest, passphrase)
        ctx.gpg.unwrap(folder / DOCUMENT, inner_document, passphrase)
    except CryptoError:
        return Verification("not_for_us", Text("nicht mit dem Praxisschlüssel entschlüsselbar",
                                               "cannot be decrypted with the practice key"))
    claim, _, _ = ctx.gpg.open_signed(inner_manifest, None, max_output=MAX_MANIFEST_BYTES)
    manifest, problem = parse_manifest(claim)
    if manifest is None:
        return Verification("manifest_invalid", problem)
    claimed = str(manifest["patient_fingerprint"])
    plain = work / "document"
    pin = ctx.store.get_pin(claimed)
    block = KEY_BLOCK_RE.search(pin.certificate) if pin is not None else None
    with isolated([block.group(0)] if block else []) as verifier:
        _, manifest_check, _ = verifier.open_signed(inner_manifest, None, max_output=MAX_MANIFEST_BYTES)
        _, document_check, _ = verifier.open_signed(inner_document, plain, max_output=max_bytes + 1)
    sha256, size = _digest(plain)
    base: dict[str, Any] = {"claimed_fingerprint": claimed, "manifest": manifest, "sha256": sha256, "size": size}
    if size > max_bytes:
        return Verification("too_large", f"{size}+ Bytes", **base)
    if pin is None or block is None:
        refused = signature_reason(document_check, unsigned_only=True) or "unpinned_signer"
        return Verification(refused, f"{claimed}", **base)
    for check in (manifest_check, document_check):
        reason = signature_reason(check) if not check.valid or check.signer != pin.fingerprint else None
        if reason is not None:
            return Verification(reason, check.problem or Text("ein anderer Unterzeichner", "another signer"), **base)
    mismatch = manifest_mismatch(manifest, share_id, ctx.config.practice_id, sha256, size)
    if mismatch:
        return Verification("manifest_mismatch", mismatch, **base)
    return Verification(None, "", fingerprint=pin.fingerprint, patient_number=pin.patient_number, **base)


def signature_reason(check: SignatureCheck, unsigned_only: bool = False) -> str | None:
    """The quarantine reason for a signature check that did not pass: gpg saw no signature
    (``unsigned``), one by a key the home does not hold (``wrong_signer``), or a bad one.
    ``unsigned_only``: only tell an unsigned message apart (None otherwise)."""
    if check.valid:
        return None
    problem = check.problem
    if problem == "no valid signature":
        return "unsigned"
    if unsigned_only:
        return None
    if "NO_PUBKEY" in problem or "ERRSIG" in problem or problem == "several signatures":
        return "wrong_signer"
    return "bad_signature"


def parse_manifest(data: bytes) -> tuple[dict[str, Any] | None, Text | str]:
    """The manifest JSON (docs/formats.md) with every field checked; (None, why) otherwise."""
    try:
        manifest = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None, Text("kein JSON", "not JSON")
    if not isinstance(manifest, dict) or manifest.get("version") != 1:
        return None, Text("Version", "version")
    checks: dict[str, Callable[[Any], bool]] = {
        "share_id": lambda v: isinstance(v, str),
        "practice_id": lambda v: isinstance(v, str),
        "patient_fingerprint": lambda v: isinstance(v, str) and bool(_HEX40.match(v)),
        "file_name": lambda v: isinstance(v, str) and 0 < len(v) <= 255,
        "document_type": lambda v: v is None or (isinstance(v, str) and len(v) <= 80),
        "document_date": lambda v: v is None or (isinstance(v, str) and bool(_DATE.match(v))),
        "sha256": lambda v: isinstance(v, str) and bool(_SHA256.match(v)),
        "size": lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 0,
    }
    for key, valid in checks.items():
        if not valid(manifest.get(key)):
            return None, Text(f"Feld {key}", f"field {key}")
    return manifest, ""


def manifest_mismatch(manifest: dict[str, Any], share_id: str, practice_id: str, sha256: str,
                      size: int) -> str:
    """The first field of the manifest that does not describe this share of this practice
    ("" when all do). A practice whose own id is not configured takes no share: it could
    not tell one for another practice (encrypted to its key too) from its own."""
    if manifest["share_id"] != share_id:
        return "share_id"
    if not practice_id or manifest["practice_id"] != practice_id:
        return "practice_id"
    if manifest["sha256"] != sha256:
        return "sha256"
    if manifest["size"] != size:
        return "size"
    return ""


def decrypt_document(ctx: Context, folder: Path, work: Path, sha256: str, max_bytes: int) -> Path:
    """The plaintext of a share checked before (verified, or released by an admin), again
    from the kept ciphertext, into ``work``; it must still have the digest recorded then.
    Raises :class:`CryptoError`."""
    inner, plain = work / "document.inner", work / "document"
    ctx.gpg.unwrap(folder / DOCUMENT, inner, ctx.practice_passphrase())
    ctx.gpg.open_signed(inner, plain, max_output=max_bytes + 1)
    inner.unlink(missing_ok=True)
    if not plain.exists() or _digest(plain)[0] != sha256:
        raise CryptoError("the kept share no longer gives the document that was checked")
    return plain


def _digest(path: Path) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    if path.exists():
        with path.open("rb") as handle:
            while block := handle.read(1024 * 1024):
                digest.update(block)
                size += len(block)
    return digest.hexdigest(), size
