"""What the pages show, computed from the store in a worker thread (no Qt here).

One :class:`Snapshot` is the whole state the window displays. It is built off the
GUI thread (it decrypts personal fields and reads the audit log) and handed to
the widgets as plain frozen data, so a page never queries the store itself.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from practice_client.core.audit import VerifyResult
from practice_client.core.models import (
    Document,
    DocumentState,
    Patient,
    Pin,
    RequestRecord,
    RequestStatus,
    Verdict,
)

if TYPE_CHECKING:
    from practice_client.core.config import Config
    from practice_client.core.store import Store

AUDIT_ROWS = 5000  # the newest entries shown; the whole chain is still verified

# What needs staff on top: open requests to decide (the doubtful ones first),
# then accepted ones waiting for documents, then the closed record.
_REQUEST_RANK = {
    (RequestStatus.OPEN, Verdict.NEEDS_REVIEW): 0,
    (RequestStatus.OPEN, Verdict.VERIFIED): 1,
    (RequestStatus.OPEN, Verdict.REJECTED): 2,
    (RequestStatus.ACCEPTED, None): 3,
    (RequestStatus.DECLINED, None): 4,
    (RequestStatus.REJECTED, None): 5,
}

# Failed and unassigned documents need staff; active ones are watched; delivered is history.
_DOCUMENT_RANK = {
    DocumentState.FAILED: 0,
    DocumentState.UNASSIGNED: 1,
    DocumentState.UPLOADING: 2,
    DocumentState.ENCRYPTED: 3,
    DocumentState.MATCHED: 4,
    DocumentState.DETECTED: 5,
    DocumentState.DELIVERED: 6,
}


@dataclass(frozen=True)
class RequestView:
    """A request as one row + detail pane."""

    record: RequestRecord

    @property
    def request_id(self) -> str:
        return self.record.request_id

    @property
    def patient(self) -> dict[str, Any]:
        value = self.record.summary.get("patient")
        return value if isinstance(value, dict) else {}

    @property
    def patient_name(self) -> str:
        return str(self.patient.get("name", ""))

    @property
    def birth_date(self) -> str:
        return str(self.patient.get("birth_date", ""))

    @property
    def documents(self) -> list[str]:
        value = self.record.summary.get("documents")
        return [str(v) for v in value] if isinstance(value, list) else []

    @property
    def period(self) -> tuple[str, str]:
        value = self.record.summary.get("period")
        if not isinstance(value, dict):
            return "", ""
        return str(value.get("from", "")), str(value.get("to", ""))

    @property
    def consent_text(self) -> str:
        value = self.record.summary.get("consent")
        return str(value.get("text", "")) if isinstance(value, dict) else ""

    @property
    def needs_action(self) -> bool:
        return self.record.status is RequestStatus.OPEN and self.record.verdict is not Verdict.REJECTED

    @property
    def can_decide(self) -> bool:
        """Open requests can be decided; a rejected one (failed verification) never."""
        return self.needs_action

    @property
    def needs_override(self) -> bool:
        return self.record.verdict is not Verdict.VERIFIED

    @property
    def accepts_files(self) -> bool:
        return self.record.status is RequestStatus.ACCEPTED

    def rank(self) -> int:
        status = self.record.status
        verdict = self.record.verdict if status is RequestStatus.OPEN else None
        return _REQUEST_RANK.get((status, verdict), 9)


@dataclass(frozen=True)
class DocumentView:
    """A document with the patient it goes to (from its request), for the Versand page."""

    document: Document
    patient_name: str = ""
    birth_date: str = ""
    patient_number: str = ""

    @property
    def document_id(self) -> str:
        return self.document.document_id

    @property
    def state(self) -> DocumentState:
        return self.document.state

    def sort_key(self) -> tuple[int, str]:
        return _DOCUMENT_RANK.get(self.document.state, 9), self.document.created_at


@dataclass(frozen=True)
class PatientRow:
    """A PMS patient and, if pinned, their trust certificate."""

    patient_number: str
    name: str
    birth_date: str
    phone: str
    pin: Pin | None


@dataclass(frozen=True)
class Snapshot:
    """Everything the window shows, read in one go off the GUI thread."""

    requests: list[RequestView] = field(default_factory=list)
    documents: list[DocumentView] = field(default_factory=list)
    patients: list[PatientRow] = field(default_factory=list)
    audit_entries: list[dict[str, Any]] = field(default_factory=list)
    audit_status: VerifyResult | None = None
    configured: bool = False

    def open_accepted_requests(self) -> list[RequestView]:
        """The only requests a file may be assigned to (name + birth date shown to avoid mix-ups)."""
        return [r for r in self.requests if r.record.status is RequestStatus.ACCEPTED]

    def attention_count(self) -> int:
        """Things that need staff: open requests, failed and unassigned documents."""
        waiting = sum(1 for r in self.requests if r.needs_action)
        stuck = sum(1 for d in self.documents if d.state in (DocumentState.FAILED, DocumentState.UNASSIGNED))
        return waiting + stuck


def _patient_rows(patients: list[Patient], pins: list[Pin]) -> list[PatientRow]:
    by_number = {p.patient_number: p for p in pins}
    rows = [
        PatientRow(p.patient_number, p.name, p.birth_date, p.phone or "", by_number.pop(p.patient_number, None))
        for p in patients
    ]
    # a pin whose patient is not (yet) in the PMS data is still shown
    rows += [PatientRow(p.patient_number, p.name, p.birth_date, p.phone, p) for p in by_number.values()]
    return sorted(rows, key=lambda r: (r.pin is None, r.name.casefold(), r.patient_number))


def load_snapshot(store: Store, config: Config) -> Snapshot:
    """Read the whole displayed state. MUST NOT run in the GUI thread (decryption, file reads)."""
    # newest first (the store's order), then stably by what needs action
    requests = sorted((RequestView(r) for r in store.list_requests()), key=RequestView.rank)
    by_id: dict[str, RequestView] = {}
    for view in requests:
        by_id.setdefault(view.request_id, view)
    documents = []
    for doc in store.list_documents():
        req = by_id.get(doc.request_id or "")
        documents.append(
            DocumentView(doc, req.patient_name, req.birth_date, req.record.patient_number or "")
            if req else DocumentView(doc)
        )
    documents.sort(key=DocumentView.sort_key)
    entries = list(deque(store.audit.entries(), maxlen=AUDIT_ROWS))
    return Snapshot(
        requests=requests,
        documents=documents,
        patients=_patient_rows(store.list_patients(), store.list_pins()),
        audit_entries=entries,
        audit_status=store.verify_audit(),
        configured=bool(config.practice_key_fingerprint),
    )
