"""The client's concepts, one name each: patient, pin (of a trust certificate),
request, check, document, delivery, outbox. Plain data; no I/O here."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from practice_client.core.text import Text


@dataclass(frozen=True)
class Patient:
    """Master data from the PMS: what a request's phone number is compared with."""

    patient_number: str
    name: str
    birth_date: str  # ISO YYYY-MM-DD
    phone: str | None  # E.164, or None when the PMS has none


@dataclass(frozen=True)
class Pin:
    """A patient's key, pinned from a verified trust certificate and linked to a PMS patient."""

    fingerprint: str
    patient_number: str
    name: str
    birth_date: str
    phone: str
    ident: str
    issued_at: str
    pinned_at: str
    certificate: str  # the full trust certificate text, kept for audit / re-verification


class Verdict(StrEnum):
    VERIFIED = "verified"
    NEEDS_REVIEW = "needs_review"
    REJECTED = "rejected"


class CheckStatus(StrEnum):
    PASS = "pass"  # noqa: S105 - a check status, not a password
    FAIL = "fail"
    WARN = "warn"


@dataclass(frozen=True)
class Check:
    """One line of the verification checklist staff see."""

    name: str
    status: CheckStatus
    detail_de: str
    detail_en: str

    @property
    def detail(self) -> Text:
        return Text(self.detail_de, self.detail_en)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "status": str(self.status),
            "detail": {"de": self.detail_de, "en": self.detail_en},
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Check:
        return cls(data["name"], CheckStatus(data["status"]), data["detail"]["de"], data["detail"]["en"])


def verdict_of(checks: list[Check]) -> Verdict:
    """Any fail rejects; otherwise any warn needs a human; otherwise verified."""
    if any(c.status is CheckStatus.FAIL for c in checks):
        return Verdict.REJECTED
    if any(c.status is CheckStatus.WARN for c in checks):
        return Verdict.NEEDS_REVIEW
    return Verdict.VERIFIED


class RequestStatus(StrEnum):
    OPEN = "open"  # received, waiting for staff
    ACCEPTED = "accepted"
    DECLINED = "declined"
    REJECTED = "rejected"  # failed verification: kept for the record, never actionable


@dataclass(frozen=True)
class RequestRecord:
    """A received request message, verified once, with staff's decision."""

    request_id: str
    message_sha256: str
    received_at: str
    source: str
    verdict: Verdict
    checks: list[Check]
    status: RequestStatus
    patient_fingerprint: str | None
    patient_number: str | None
    summary: dict[str, Any]  # the request JSON (decrypted from the database)
    expires_at: str | None
    decided_at: str | None = None
    decision_reason: str | None = None
    override: bool = False
    decision_sent: bool = False
    decision_refused: bool = False  # the platform will never take it (e.g. it knows another one)
    accepted_fingerprint: str | None = None  # the pinned key that signed it, recorded at accept


class DocumentState(StrEnum):
    DETECTED = "detected"
    UNASSIGNED = "unassigned"
    MATCHED = "matched"
    HELD = "held"  # the patient was re-pinned since the request was accepted: staff decide
    ENCRYPTED = "encrypted"
    UPLOADING = "uploading"
    DELIVERED = "delivered"
    FAILED = "failed"


# Allowed transitions of the outbox state machine. Anything else is a bug.
TRANSITIONS: dict[DocumentState, frozenset[DocumentState]] = {
    DocumentState.DETECTED: frozenset(
        {DocumentState.MATCHED, DocumentState.UNASSIGNED, DocumentState.FAILED}
    ),
    DocumentState.UNASSIGNED: frozenset({DocumentState.MATCHED, DocumentState.FAILED}),
    DocumentState.MATCHED: frozenset(
        {DocumentState.ENCRYPTED, DocumentState.FAILED, DocumentState.HELD}
    ),
    # held: staff send it to the patient's new key (matched again) or withhold it (failed)
    DocumentState.HELD: frozenset({DocumentState.MATCHED, DocumentState.FAILED}),
    DocumentState.ENCRYPTED: frozenset(
        {DocumentState.UPLOADING, DocumentState.FAILED, DocumentState.HELD}
    ),
    DocumentState.UPLOADING: frozenset(
        {DocumentState.DELIVERED, DocumentState.FAILED, DocumentState.UPLOADING, DocumentState.HELD}
    ),
    DocumentState.FAILED: frozenset({DocumentState.MATCHED, DocumentState.UNASSIGNED}),  # retry
    DocumentState.DELIVERED: frozenset(),
}


@dataclass
class Document:
    """One file from the export folder on its way to a patient (a row of the outbox)."""

    document_id: str
    state: DocumentState
    original_name: str
    source_path: str  # where the client holds the original (inside its own folders)
    size: int
    sha256: str
    created_at: str
    updated_at: str
    request_id: str | None = None
    match_method: str | None = None
    error: str | None = None
    attempts: int = 0
    ciphertext_sha256: str | None = None
    manifest_sha256: str | None = None
    delivered_at: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
