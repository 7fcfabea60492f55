"""Patients' trust certificates: verify one, link it to a PMS patient, pin its key.

A trust certificate (DESIGN.md) is the patient's public key block followed by a
clearsigned JSON attestation of the platform's identity-verification key. The
server is not trusted, so every rule here is strict:

- the file is exactly one public key block and one clearsigned message, nothing
  else (text glued before, between or after could otherwise pass for attested);
- the attestation is verified in a throw-away home that holds *only* the
  configured identity key, so no other key anywhere can make it valid, and its
  JSON is taken from gpg's output, never from the armor;
- the attested fingerprint is the one key in the block, which must be valid and
  able to sign (consents) and to encrypt (documents);
- the key is linked to a patient who exists in the PMS master data - never
  guessed between two - and pinned only after all of that, in one audited step.

A pinned key lives only in the database, inside the certificate, never in the client's
GnuPG home: its user id holds the patient's name (:mod:`.patient_keys`).
"""

from __future__ import annotations

import json
import logging
import re
import unicodedata
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from practice_client.core.audit import now_iso
from practice_client.core.errors import CryptoError, InputError, NotConfigured
from practice_client.core.files import read_bounded
from practice_client.core.models import Patient, Pin
from practice_client.core.phone import is_e164
from practice_client.crypto.gpg import FINGERPRINT_RE, Gpg, KeyInfo, isolated, normalize_fingerprint
from practice_client.crypto.packets import newer_formats
from practice_client.crypto.patient_keys import scrub_home

if TYPE_CHECKING:
    from practice_client.context import Context

log = logging.getLogger(__name__)

MAX_CERTIFICATE_BYTES = 256 * 1024
CLOCK_SKEW = timedelta(minutes=10)
FIELDS = ("version", "fingerprint", "name", "birth_date", "phone", "ident", "issued_at")

_STRUCTURE = re.compile(
    r"\A\s*(?P<key>-----BEGIN PGP PUBLIC KEY BLOCK-----\r?\n.*?\n-----END PGP PUBLIC KEY BLOCK-----)"
    r"\s*(?P<signed>-----BEGIN PGP SIGNED MESSAGE-----\r?\n.*?\n-----BEGIN PGP SIGNATURE-----\r?\n"
    r".*?\n-----END PGP SIGNATURE-----)\s*\Z",
    re.DOTALL,
)
_ARMOR_LINE = re.compile(r"^-----(BEGIN|END) PGP [A-Z ,/0-9]*-----\s*$", re.MULTILINE)
_IDENT = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass(frozen=True)
class TrustCertificate:
    """A certificate whose attestation and key have passed every check."""

    fingerprint: str
    name: str
    birth_date: str
    phone: str
    ident: str
    issued_at: str
    public_key: str  # the key as re-exported by gpg (minimal): what gets imported
    text: str  # the certificate file as received, kept with the pin


# -- parsing and verification ------------------------------------------------------


def read_certificate(path: Path) -> str:
    raw = read_bounded(path, MAX_CERTIFICATE_BYTES, "trust certificate")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError(path, "not a trust certificate (not UTF-8 text)") from None


def split_certificate(text: str, source: str | Path) -> tuple[str, str]:
    """(public key block, clearsigned attestation), or a one-line refusal."""
    if "\x00" in text:
        raise InputError(source, "not a trust certificate (binary data)")
    armor = [m.group(0).strip() for m in _ARMOR_LINE.finditer(text)]
    expected = [
        "-----BEGIN PGP PUBLIC KEY BLOCK-----", "-----END PGP PUBLIC KEY BLOCK-----",
        "-----BEGIN PGP SIGNED MESSAGE-----", "-----BEGIN PGP SIGNATURE-----",
        "-----END PGP SIGNATURE-----",
    ]
    match = _STRUCTURE.match(text) if armor == expected else None
    if match is None:
        raise InputError(
            source,
            "not a trust certificate: expected exactly one public key block followed by one "
            "clearsigned attestation and nothing else",
        )
    return match.group("key"), match.group("signed")


def _unusable(gpg: Gpg, block: str, source: str | Path, problem: str) -> InputError:
    """The refusal for a key gpg could not (fully) use: where the block holds what this
    GnuPG cannot read (RFC 9580 v6 keys or algorithms), that is the reason given."""
    newer = newer_formats(block)
    if not newer:
        return InputError(source, problem)
    return InputError(
        source,
        f"the patient's key is {newer[0]}, which GnuPG {gpg.version} on this computer cannot use - "
        "the patient's app must hand over an OpenPGP v4 key (Ed25519/Cv25519, RSA, NIST P-256/P-384)",
    )


def _inspect_key_block(block: str, source: str | Path) -> tuple[KeyInfo, str]:
    """The one key of the block and its minimal re-export, checked in a throw-away home."""
    with isolated() as gpg:
        try:
            fingerprints = gpg.import_keys(block)
        except CryptoError:
            raise _unusable(gpg, block, source, "the public key block is damaged or holds no key") from None
        if len(fingerprints) != 1:
            raise InputError(source, f"the key block must hold exactly one key, not {len(fingerprints)}")
        info = gpg.key_info(fingerprints[0])
        if info is None:
            raise InputError(source, "the public key block is damaged or holds no key")
        exported = gpg.export_public(info.fingerprint)
        if info.revoked:
            raise InputError(source, f"the patient's key {info.fingerprint} is revoked")
        if info.expired:
            raise InputError(source, f"the patient's key {info.fingerprint} has expired")
        if not info.encryption_subkeys:
            raise _unusable(gpg, block, source, f"the patient's key {info.fingerprint} has no usable encryption subkey")
        if not info.can_sign:
            raise _unusable(gpg, block, source, f"the patient's key {info.fingerprint} cannot sign")
    return info, exported


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"duplicate field '{key}'")
        result[key] = value
    return result


def _text_field(data: dict[str, Any], key: str, source: str | Path, limit: int = 200) -> str:
    value = data[key]
    if (
        not isinstance(value, str) or not value.strip() or len(value) > limit
        or any(unicodedata.category(c) == "Cc" for c in value)
    ):
        raise InputError(source, f"the attestation's '{key}' is not valid")
    return value


def parse_attestation(payload: bytes, source: str | Path) -> dict[str, Any]:
    """The attestation JSON, schema-checked (version 1, every field, nothing unknown)."""
    try:
        data = json.loads(payload.decode("utf-8"), object_pairs_hook=_no_duplicates)
    except (UnicodeDecodeError, ValueError) as exc:
        raise InputError(source, f"the attestation is not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise InputError(source, "the attestation is not a JSON object")
    missing = [k for k in FIELDS if k not in data]
    unknown = sorted(set(data) - set(FIELDS))
    if missing or unknown:
        raise InputError(source, f"the attestation has missing {missing} or unknown {unknown} fields")
    if type(data["version"]) is not int or data["version"] != 1:
        raise InputError(source, "unsupported attestation version (expected 1)")
    fingerprint = data["fingerprint"]
    if not isinstance(fingerprint, str) or not FINGERPRINT_RE.match(fingerprint.upper()):
        raise InputError(source, "the attestation's fingerprint is not 40 hex digits")
    name = _text_field(data, "name", source)
    birth = _text_field(data, "birth_date", source, 10)
    try:
        born = date.fromisoformat(birth) if _ISO_DATE.match(birth) else None
    except ValueError:
        born = None
    if born is None or not date(1880, 1, 1) <= born <= date.today():
        raise InputError(source, "the attestation's birth_date is not a valid YYYY-MM-DD date")
    phone = _text_field(data, "phone", source, 20)
    if not is_e164(phone):
        raise InputError(source, "the attestation's phone is not a valid E.164 number")
    ident = _text_field(data, "ident", source, 32)
    if not _IDENT.match(ident):
        raise InputError(source, "the attestation's ident is not valid")
    issued = _text_field(data, "issued_at", source, 40)
    try:
        issued_at = datetime.fromisoformat(issued)
    except ValueError:
        raise InputError(source, "the attestation's issued_at is not an ISO 8601 time") from None
    if issued_at.tzinfo is None or issued_at > datetime.now(UTC) + CLOCK_SKEW:
        raise InputError(source, "the attestation's issued_at is in the future or has no time zone")
    return {"fingerprint": fingerprint.upper(), "name": name.strip(), "birth_date": birth,
            "phone": phone, "ident": ident, "issued_at": issued}


def verify_certificate_text(
    text: str, source: str | Path, ident_key: str, ident_fingerprint: str
) -> TrustCertificate:
    """Every check that needs only the certificate and the platform identity key."""
    key_block, signed = split_certificate(text, source)
    with isolated([ident_key]) as verifier:
        payload, check = verifier.decrypt_clearsigned(signed.encode("utf-8"))
    if not check.valid or check.signer != ident_fingerprint:
        raise InputError(
            source,
            "the attestation is not signed by the platform's identity key "
            f"({check.problem or 'signed by another key'})",
        )
    info, exported = _inspect_key_block(key_block, source)  # first: it names a key gpg cannot use
    attested = parse_attestation(payload, source)
    if attested["fingerprint"] != info.fingerprint:
        raise InputError(
            source,
            f"the attestation names key {attested['fingerprint']}, "
            f"but the certificate holds key {info.fingerprint}",
        )
    return TrustCertificate(public_key=exported, text=text, **attested)


def verify_certificate(ctx: Context, path: Path, text: str | None = None) -> TrustCertificate:
    """Read and verify a trust certificate file against the configured identity key
    (``text``: the file's content, sent by a workstation; ``path`` then only names it)."""
    ident = ctx.config.ident_key_fingerprint
    if not ident:
        raise NotConfigured(
            f"{ctx.home.config}: no platform identity key configured - run 'practice-client setup'"
        )
    try:
        ident_key = ctx.gpg.export_public(ident)
    except CryptoError:
        raise NotConfigured(
            f"{ctx.home.gnupg}: the platform identity key {ident} is missing - run setup again"
        ) from None
    if text is not None and len(text.encode("utf-8")) > MAX_CERTIFICATE_BYTES:
        raise InputError(path, "too large for a trust certificate")
    cert = verify_certificate_text(read_certificate(path) if text is None else text, path, ident_key, ident)
    if cert.fingerprint in {ident, ctx.config.practice_key_fingerprint}:
        raise InputError(path, "the certificate's key is the practice's or the platform's own key")
    log.info("trust certificate verified: %s", cert.fingerprint)
    return cert


# -- linking to the PMS and pinning --------------------------------------------------


def name_key(name: str) -> tuple[str, ...]:
    """Names compared regardless of order, case and commas ("Mustermann, Erika")."""
    folded = unicodedata.normalize("NFC", name).casefold()
    return tuple(sorted(t for t in re.split(r"[\s,]+", folded) if t))


def find_patient(
    ctx: Context, cert: TrustCertificate, patient_number: str | None, source: str | Path
) -> Patient:
    """The PMS patient this certificate belongs to: the given number, which must exist
    and agree with the attested name and birth date, or the one patient that matches."""
    if patient_number is not None:
        patient = ctx.store.get_patient(patient_number)
        if patient is None:
            raise InputError(
                source, f"patient number {patient_number} is not in the patient master data "
                "(import it with 'practice-client patients import')",
            )
        if patient.birth_date != cert.birth_date or name_key(patient.name) != name_key(cert.name):
            raise InputError(
                source, f"the certificate's name or birth date differs from the master data of "
                f"patient {patient_number}",
            )
        return patient
    matches = [
        p for p in ctx.store.patients_born_on(cert.birth_date)
        if p.birth_date == cert.birth_date and name_key(p.name) == name_key(cert.name)
    ]
    if len(matches) != 1:
        why = "no patient" if not matches else f"{len(matches)} patients"
        raise InputError(
            source, f"{why} in the master data with this name and birth date: give --patient-number",
        )
    return matches[0]


def pin_certificate(ctx: Context, cert: TrustCertificate, patient: Patient, replace: bool) -> Pin:
    """Pin the verified certificate (one audited store step). The key stays in the
    database: nothing is imported into the client's GnuPG home."""
    pin = Pin(
        fingerprint=cert.fingerprint, patient_number=patient.patient_number, name=cert.name,
        birth_date=cert.birth_date, phone=cert.phone, ident=cert.ident, issued_at=cert.issued_at,
        pinned_at=now_iso(), certificate=cert.text,
    )
    replaced = {p.fingerprint for p in (ctx.store.get_pin_for_patient(patient.patient_number),
                                        ctx.store.get_pin(cert.fingerprint)) if p is not None}
    ctx.store.pin(pin, replace=replace)
    scrub_home(ctx)  # a home of an earlier version still holds pinned keys: not any more
    log.info("pinned %s for patient %s (replaced %d)", cert.fingerprint, patient.patient_number,
             len(replaced - {cert.fingerprint}))
    return pin


def remove_pin(ctx: Context, fingerprint: str) -> Pin:
    """Unpin (audited)."""
    fpr = normalize_fingerprint(fingerprint)
    pin = ctx.store.unpin(fpr)
    scrub_home(ctx)
    log.info("unpinned %s", fpr)
    return pin
