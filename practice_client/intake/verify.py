"""Verification of a request message: one pure function, message + state -> verdict.

:func:`verify_message` reads the store but never writes it, so ``request verify``
and intake share it and intake alone decides what to record. Every check is run
that can be run (staff see all that is wrong, not only the first problem); a
message that cannot be parsed gets ``dkim`` and a failing ``format`` check only.

Details are plain German and English for a practice assistant. They contain no
patient data - except the ``identity`` check's, which shows the request's name and
birth date beside the PMS record's and the pinned certificate's, because staff must
see both to judge. Check lists are sealed at rest with the request; the audit log
and the log files get check names only.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from practice_client.core.config import Config
from practice_client.core.errors import InputError
from practice_client.core.identity import (
    CLAIM_VS_CERTIFICATE,
    CLAIM_VS_PMS,
    NameMatch,
    PatientIdentity,
    Person,
    certificate_of,
    german_date,
)
from practice_client.core.models import Check, CheckStatus, Pin, Verdict, verdict_of
from practice_client.core.phone import normalize_phone
from practice_client.core.store import Store
from practice_client.crypto.gpg import isolated
from practice_client.crypto.trust import split_certificate
from practice_client.intake.dkim_check import DkimOutcome, DnsFunc, check_dkim
from practice_client.intake.message import FormatProblem, ParsedMessage, RequestData, parse_message

log = logging.getLogger(__name__)

CLOCK_SKEW = timedelta(minutes=5)
DKIM_NOT_CHECKABLE = DkimOutcome(Check(
    "dkim", CheckStatus.WARN,
    "Die E-Mail-Signatur (DKIM) ist nicht prüfbar: Outlook speichert eine E-Mail als .msg nicht im "
    "Original. Bitte als .eml speichern oder aus dem Postfach abrufen – oder die Herkunft selbst prüfen.",
    "The e-mail signature (DKIM) cannot be checked: Outlook does not keep the original message in a "
    ".msg file. Save it as .eml or fetch it from the mailbox - or confirm where it came from yourself.",
), None, False)


@dataclass(frozen=True)
class Verification:
    """The verdict on one message and everything intake needs to record it."""

    verdict: Verdict
    checks: list[Check]
    request_id: str | None
    request: dict[str, Any] | None  # the request JSON, when it could be parsed
    patient_fingerprint: str | None
    patient_number: str | None  # of the pinned patient, when there is one
    expires_at: str | None
    temporary: bool  # DNS trouble: verify again later instead of recording a verdict

    def to_json(self) -> dict[str, Any]:
        """The ``request verify --json`` object (docs/formats.md)."""
        return {
            "verdict": str(self.verdict),
            "request_id": self.request_id,
            "checks": [c.to_json() for c in self.checks],
        }


def _check(name: str, status: CheckStatus, de: str, en: str) -> Check:
    return Check(name, status, de, en)


def verify_message(
    raw: bytes, *, config: Config, store: Store, dnsfunc: DnsFunc, now: datetime, reconstructed: bool = False
) -> Verification:
    """Judge a raw request message against the practice's state at time ``now`` (UTC).

    ``reconstructed``: the message was rebuilt from an Outlook .msg (mail_file.py), whose
    DKIM cannot be checked - a warning instead, so it is never *verified*. Reads the store
    (pins, master data, seen request ids); writes nothing. A message over the size limit is
    judged on its size alone (no parsing, no DNS)."""
    dkim = DKIM_NOT_CHECKABLE if reconstructed else check_dkim(raw, config.platform_domain, dnsfunc, now.timestamp())
    try:
        parsed = parse_message(raw)
    except FormatProblem as problem:
        checks = [dkim.check, _check("format", CheckStatus.FAIL, problem.detail_de, problem.detail_en)]
        return Verification(Verdict.REJECTED, checks, None, None, None, None, None, dkim.temporary)
    request = parsed.request
    pin = store.get_pin(request.fingerprint)
    checks = [
        dkim.check,
        _check(
            "format", CheckStatus.PASS,
            "Die Anfrage hat das vereinbarte Format.", "The request has the agreed format.",
        ),
        _consent_check(parsed, pin),
        _phone_check(parsed, pin, store),
        _identity_check(request, pin, store),
        _addressee_check(request, config),
        _freshness_check(request, now, config.max_request_days),
        _replay_check(request, store, hashlib.sha256(raw).hexdigest()),
    ]
    return Verification(
        verdict=verdict_of(checks),
        checks=checks,
        request_id=request.request_id,
        request=request.data,
        patient_fingerprint=request.fingerprint,
        patient_number=pin.patient_number if pin else None,
        expires_at=_iso(effective_expiry(request, config.max_request_days)),
        temporary=dkim.temporary,
    )


def pinned_public_key(pin: Pin) -> str | None:
    """The patient's public key block from the pinned trust certificate (None if damaged)."""
    try:
        key, _ = split_certificate(pin.certificate, pin.fingerprint)
    except InputError:
        return None
    return key


def _consent_check(parsed: ParsedMessage, pin: Pin | None) -> Check:
    """The detached signature over the exact request.json bytes, by the pinned key and no other."""
    if pin is None:
        return _check(
            "consent_signature", CheckStatus.FAIL,
            "Für diesen Patienten ist kein Vertrauenszertifikat hinterlegt – Patient unbekannt.",
            "No trust certificate is pinned for this patient - unknown patient.",
        )
    key = pinned_public_key(pin)
    if key is None:
        return _check(
            "consent_signature", CheckStatus.FAIL,
            "Das hinterlegte Vertrauenszertifikat ist beschädigt – bitte neu einlesen.",
            "The pinned trust certificate is damaged - please import it again.",
        )
    try:
        with isolated([key]) as gpg:
            # only the pinned key may be in this home; anything else means a damaged pin
            result = gpg.verify_detached(parsed.request_json, parsed.signature) if gpg.key_info(
                pin.fingerprint) is not None else None
    except Exception as exc:  # noqa: BLE001 - gpg on hostile signatures: a failed check, never a crash
        log.debug("consent signature check failed: %s", type(exc).__name__)
        result = None
    if result is None or not result.valid or result.signer != pin.fingerprint:
        return _check(
            "consent_signature", CheckStatus.FAIL,
            "Die Einwilligung ist nicht vom hinterlegten Schlüssel des Patienten unterschrieben "
            "oder wurde nach dem Unterschreiben verändert.",
            "The consent is not signed by the patient's pinned key, or it was changed after signing.",
        )
    return _check(
        "consent_signature", CheckStatus.PASS,
        "Die Einwilligung ist vom Patienten unterschrieben (hinterlegter Schlüssel).",
        "The consent is signed by the patient (pinned key).",
    )


def _phone_check(parsed: ParsedMessage, pin: Pin | None, store: Store) -> Check:
    """Request phone (JSON and text part) == the PMS master-data phone of the pinned patient."""
    if pin is None:
        return _check(
            "phone", CheckStatus.FAIL,
            "Telefonnummer nicht prüfbar: Patient unbekannt.",
            "Phone number cannot be checked: unknown patient.",
        )
    stated = {normalize_phone(parsed.request.phone)} | {normalize_phone(p) for p in parsed.text_phones}
    if not parsed.text_phones or None in stated:
        return _check(
            "phone", CheckStatus.FAIL,
            "Die Telefonnummer in der Anfrage fehlt oder ist ungültig.",
            "The phone number in the request is missing or invalid.",
        )
    if len(stated) != 1:
        return _check(
            "phone", CheckStatus.FAIL,
            "Die Telefonnummern im Text und in den Anfragedaten stimmen nicht überein.",
            "The phone numbers in the text and in the request data differ.",
        )
    patient = store.get_patient(pin.patient_number)
    master = normalize_phone(patient.phone or "") if patient else None
    if master is None:
        return _check(
            "phone", CheckStatus.WARN,
            "In den Patientenstammdaten ist keine Telefonnummer hinterlegt – bitte mit dem "
            "Patienten abgleichen.",
            "The patient's master data has no phone number - please confirm with the patient.",
        )
    if stated != {master}:
        return _check(
            "phone", CheckStatus.FAIL,
            "Die Telefonnummer der Anfrage stimmt nicht mit den Patientenstammdaten überein.",
            "The request's phone number does not match the patient's master data.",
        )
    return _check(
        "phone", CheckStatus.PASS,
        "Die Telefonnummer stimmt mit den Patientenstammdaten überein.",
        "The phone number matches the patient's master data.",
    )


def _side_by_side(identity: PatientIdentity) -> tuple[str, str]:
    """The three versions of who the request is about, one after the other."""
    rows = [("Anfrage", "request", identity.claimed), ("Stammdaten (PVS)", "PMS record", identity.pms),
            ("Vertrauenszertifikat", "trust certificate", identity.certificate_person)]
    de = "; ".join(f"{label} „{p.name}“, geb. {german_date(p.birth_date)}" for label, _, p in rows if p)
    en = "; ".join(f'{label} "{p.name}", born {p.birth_date}' for _, label, p in rows if p)
    return de, en


def _identity_check(request: RequestData, pin: Pin | None, store: Store) -> Check:
    """The request's claimed name and birth date against the PMS record and the pinned
    certificate: a patient signing with her own key must not pass as another patient."""
    if pin is None:
        return _check(
            "identity", CheckStatus.FAIL,
            "Name und Geburtsdatum nicht prüfbar: Patient unbekannt.",
            "Name and birth date cannot be checked: unknown patient.",
        )
    patient = store.get_patient(pin.patient_number)
    if patient is None:
        return _check(
            "identity", CheckStatus.FAIL,
            f"Patient {pin.patient_number} fehlt in den Stammdaten (PVS) – Name und Geburtsdatum "
            "nicht prüfbar.",
            f"Patient {pin.patient_number} is missing from the PMS master data - name and birth "
            "date cannot be checked.",
        )
    identity = PatientIdentity(
        pin.patient_number, Person(patient.name, patient.birth_date), certificate_of(pin),
        Person(request.patient_name, request.birth_date), request.fingerprint,
    )
    vs_pms, vs_cert = identity.match(CLAIM_VS_PMS), identity.match(CLAIM_VS_CERTIFICATE)
    de, en = _side_by_side(identity)
    if vs_pms is NameMatch.DIFFERENT and vs_cert is NameMatch.DIFFERENT:
        return _check(
            "identity", CheckStatus.FAIL,
            f"Name oder Geburtsdatum der Anfrage gehören nicht zu diesem Patienten: {de}.",
            f"The request's name or birth date do not belong to this patient: {en}.",
        )
    if NameMatch.DIFFERENT in (vs_pms, vs_cert):
        return _check(
            "identity", CheckStatus.WARN,
            f"Stammdaten und Vertrauenszertifikat stimmen nicht mehr überein (z. B. Namensänderung) "
            f"– bitte prüfen: {de}.",
            f"The PMS record and the trust certificate no longer agree (e.g. a change of name) - "
            f"please check: {en}.",
        )
    if NameMatch.SPELLING in (vs_pms, vs_cert):
        return _check(
            "identity", CheckStatus.WARN,
            f"Der Name ist anders geschrieben – bitte prüfen: {de}.",
            f"The name is spelled differently - please check: {en}.",
        )
    return _check(
        "identity", CheckStatus.PASS,
        "Name und Geburtsdatum stimmen mit den Stammdaten und dem Vertrauenszertifikat überein.",
        "Name and birth date match the PMS record and the trust certificate.",
    )


def _addressee_check(request: RequestData, config: Config) -> Check:
    if not config.practice_id or request.practice_id != config.practice_id:
        return _check(
            "addressee", CheckStatus.FAIL,
            "Die Anfrage ist an eine andere Praxis gerichtet.",
            "The request is addressed to another practice.",
        )
    return _check(
        "addressee", CheckStatus.PASS,
        "Die Anfrage ist an diese Praxis gerichtet.", "The request is addressed to this practice.",
    )


def effective_expiry(request: RequestData, max_days: int) -> datetime:
    """The request's own expiry, but never later than ``max_days`` after its creation
    (the practice's policy): a request claiming to be valid until 2099 must not stay an
    automatic delivery target for ever."""
    return min(request.expires_at, request.created_at + timedelta(days=max(1, max_days)))


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _freshness_check(request: RequestData, now: datetime, max_days: int) -> Check:
    if request.created_at > now + CLOCK_SKEW or request.consent_signed_at > now + CLOCK_SKEW:
        return _check(
            "freshness", CheckStatus.FAIL,
            "Die Anfrage ist in der Zukunft datiert.", "The request is dated in the future.",
        )
    max_days = max(1, max_days)
    expires = effective_expiry(request, max_days)
    capped = expires < request.expires_at
    if expires <= now:
        return _check(
            "freshness", CheckStatus.FAIL,
            f"Die Anfrage ist abgelaufen (sie gilt höchstens {max_days} Tage ab Erstellung)." if capped
            else "Die Anfrage ist abgelaufen.",
            f"The request has expired (it is valid for at most {max_days} days after its creation)."
            if capped else "The request has expired.",
        )
    if capped:
        day = expires.strftime("%d.%m.%Y")
        return _check(
            "freshness", CheckStatus.PASS,
            f"Die Anfrage ist aktuell. Sie gilt nur bis {day}: die Praxis lässt Anfragen höchstens "
            f"{max_days} Tage ab Erstellung gelten, auch wenn sie länger gültig sein wollen.",
            f"The request is current. It is valid only until {expires:%Y-%m-%d}: the practice accepts "
            f"requests for at most {max_days} days after their creation, even when they claim longer.",
        )
    return _check(
        "freshness", CheckStatus.PASS, "Die Anfrage ist aktuell.", "The request is current.",
    )


def _replay_check(request: RequestData, store: Store, message_sha256: str) -> Check:
    if store.request_id_seen(request.request_id, other_than_message=message_sha256):
        return _check(
            "replay", CheckStatus.FAIL,
            "Diese Anfrage wurde schon einmal empfangen – mögliche Wiederholung (Replay).",
            "This request was received before - possible replay.",
        )
    return _check(
        "replay", CheckStatus.PASS,
        "Die Anfrage ist neu.", "The request is new.",
    )
