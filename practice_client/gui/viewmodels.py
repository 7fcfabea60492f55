"""What the pages show, and the one interface they read it through (no Qt here).

The window shows lists that grow for years (requests, documents, documents patients
shared, patients, the audit log). It never holds them whole: a list is read a
:class:`Page` at a time, in the order the database keeps for it, and kept current
with :class:`Changes` - the rows that changed since a *cursor* (the seq of the audit
entry the list was last read at; every state change writes one, and stamps the rows
it touched with it).
So a refresh costs what changed, not what exists.

:class:`DataSource` is that interface. :class:`~practice_client.gui.local_source.LocalSource`
implements it over this machine's store; the practice service will implement the
same over HTTPS for the workstations. Its methods block (database, decryption):
the controller calls them in worker threads only.

Patients are named by the **PMS record** (number, name, birth date) and the pinned
trust certificate, never by what a request claims: :class:`RequestView` carries the
claim only to show it *beside* the record where the two differ.
"""

from __future__ import annotations

import dataclasses
import unicodedata
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

from practice_client.core.audit import VerifyResult
from practice_client.core.config import Config
from practice_client.core.models import (
    Document,
    DocumentState,
    Patient,
    Pin,
    RequestRecord,
    RequestStatus,
    Share,
    Verdict,
)
from practice_client.core.text import Text
from practice_client.delivery.recipients import AssignCandidate

SortKey = tuple[Any, ...]
PAGE_ROWS = 200  # rows per page: a few screens, read in milliseconds
MAX_CHANGES = 500  # more changed rows than this since a list's cursor: it is read again instead


class ListKind(StrEnum):
    REQUESTS = "requests"
    DOCUMENTS = "documents"
    PATIENTS = "patients"
    AUDIT = "audit"
    SHARES = "shares"


# Each list's order, as the directions of its sort key's values (True: descending);
# the models keep changed rows in the same order the database pages them in.
DESCENDING: dict[ListKind, tuple[bool, ...]] = {
    ListKind.REQUESTS: (False, True, False),  # what needs staff first, then newest
    ListKind.DOCUMENTS: (False, True, False),
    ListKind.PATIENTS: (False, False),  # by patient number (numerically)
    ListKind.AUDIT: (True,),  # newest first
    ListKind.SHARES: (False, True, False),  # quarantined and waiting first, then newest
}


@dataclass(frozen=True)
class Query:
    """One list with its filters: ``search`` (an identifier's start: patient number,
    fingerprint, request or document id) and, for the audit log, one ``event``."""

    kind: ListKind
    search: str = ""
    event: str = ""


def _plain(text: str) -> str:
    return " ".join(unicodedata.normalize("NFC", text).casefold().split())


def same_text(a: str, b: str) -> bool:
    """Equal as staff would read them (case, spacing and Unicode form aside)."""
    return _plain(a) == _plain(b)


class NamedByPms:
    """A row that names its patient by the PMS record (``patient``; None: the PMS has none)."""

    patient: Patient | None

    @property
    def patient_name(self) -> str:
        """The PMS name; "" when the PMS has no such patient."""
        return self.patient.name if self.patient else ""

    @property
    def birth_date(self) -> str:
        return self.patient.birth_date if self.patient else ""


@dataclass(frozen=True)
class RequestView(NamedByPms):
    """A request as one row + the detail pane: the record, the PMS patient of its patient
    number and the pin of the key that signed it."""

    record: RequestRecord
    patient: Patient | None = None  # the PMS record (joined by patient number)
    pin: Pin | None = None  # the pinned certificate of the request's key
    sort: SortKey = ()

    @property
    def key(self) -> str:
        return self.record.message_sha256

    @property
    def request_id(self) -> str:
        return self.record.request_id

    @property
    def claim(self) -> dict[str, Any]:
        """What the request says about the patient (typed by the requester: never shown alone)."""
        value = self.record.summary.get("patient")
        return value if isinstance(value, dict) else {}

    @property
    def claimed_name(self) -> str:
        return str(self.claim.get("name", ""))

    @property
    def claimed_birth_date(self) -> str:
        return str(self.claim.get("birth_date", ""))

    @property
    def patient_number(self) -> str:
        return self.record.patient_number or ""

    @property
    def name_differs(self) -> bool:
        return self.patient is not None and not same_text(self.claimed_name, self.patient.name)

    @property
    def birth_differs(self) -> bool:
        return self.patient is not None and self.claimed_birth_date != self.patient.birth_date

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


@dataclass(frozen=True)
class DocumentView(NamedByPms):
    """A document and the PMS patient it goes to (through its request's patient number)."""

    document: Document
    patient: Patient | None = None
    patient_number: str = ""
    sort: SortKey = ()

    @property
    def key(self) -> str:
        return self.document.document_id

    @property
    def document_id(self) -> str:
        return self.document.document_id

    @property
    def state(self) -> DocumentState:
        return self.document.state


# shares that need staff: in quarantine, or waiting (for a scanner, the import folder)
SHARES_NEEDING_STAFF = frozenset({"quarantined", "waiting"})


@dataclass(frozen=True)
class ShareView(NamedByPms):
    """A document a patient shared, with the PMS record of its patient. A share names a
    patient only once its signature verified against that patient's pinned key (or an
    admin released it to a PMS patient, with two identifiers): until then ``patient`` is
    None and what the patient's app wrote (file name, type) is not shown either - an
    unverified claim is never shown as if it were the patient's identity."""

    share: Share
    patient: Patient | None = None
    sort: SortKey = ()

    @property
    def key(self) -> str:
        return self.share.share_id

    @property
    def share_id(self) -> str:
        return self.share.share_id

    @property
    def state(self) -> str:
        return self.share.state

    @property
    def patient_number(self) -> str:
        return self.share.patient_number or ""

    @property
    def claims_shown(self) -> bool:
        return self.share.patient_number is not None

    def _claim(self, name: str) -> str:
        return str(self.share.manifest.get(name) or "") if self.claims_shown else ""

    @property
    def file_name(self) -> str:
        return self._claim("file_name")

    @property
    def document_type(self) -> str:
        return self._claim("document_type")

    @property
    def document_date(self) -> str:
        return self._claim("document_date")

    def detail(self, language: str) -> str:
        """What was found (a signature name, a scanner's answer, staff's reason), in ``language``
        where the client wrote it in both."""
        return Text.decode(self.share.detail).pick(language) if self.share.detail else ""

    @property
    def needs_staff(self) -> bool:
        return self.share.state in SHARES_NEEDING_STAFF

    @property
    def can_release(self) -> bool:
        """Quarantined and decrypted (a share that never decrypted has nothing to hand on)."""
        return self.share.state == "quarantined" and self.share.sha256 is not None

    @property
    def can_discard(self) -> bool:
        return self.needs_staff


@dataclass(frozen=True)
class PatientRow:
    """A PMS patient and, if pinned, their trust certificate (or a pin whose patient the
    PMS data does not hold (yet): then named by the certificate)."""

    patient_number: str
    name: str
    birth_date: str
    phone: str
    pin: Pin | None
    in_pms: bool = True
    sort: SortKey = ()

    @property
    def key(self) -> str:
        return self.patient_number


@dataclass(frozen=True)
class AuditRow:
    seq: int
    time: str
    event: str
    details: dict[str, Any]

    @property
    def key(self) -> str:
        return str(self.seq)

    @property
    def sort(self) -> SortKey:
        return (self.seq,)


Row = RequestView | DocumentView | PatientRow | AuditRow | ShareView


@dataclass(frozen=True)
class Page:
    """Rows in the list's order, read at ``cursor``; ``more``: rows follow the last."""

    rows: tuple[Row, ...]
    more: bool
    cursor: int


@dataclass(frozen=True)
class Changes:
    """What changed in a list since a cursor: rows as they are now (those the query
    matches) and keys that left the list. ``reset``: too much changed, read it again."""

    cursor: int
    rows: tuple[Row, ...] = ()
    removed: tuple[str, ...] = ()
    reset: bool = False


@dataclass(frozen=True)
class Overview:
    """The counts the window shows around its lists."""

    cursor: int = 0
    waiting_requests: int = 0
    documents: dict[DocumentState, int] = field(default_factory=dict)
    patients: int = 0
    pinned: int = 0
    configured: bool = False
    shares: dict[str, int] = field(default_factory=dict)  # shares by state

    def count(self, *states: DocumentState) -> int:
        return sum(self.documents.get(s, 0) for s in states)

    @property
    def shares_needing_staff(self) -> int:
        return sum(self.shares.get(s, 0) for s in SHARES_NEEDING_STAFF)

    @property
    def stuck_documents(self) -> int:
        return self.count(DocumentState.FAILED, DocumentState.UNASSIGNED, DocumentState.HELD)

    def attention_count(self) -> int:
        """Things that need staff: open requests; failed, unassigned and held documents; shares
        in quarantine or waiting."""
        return self.waiting_requests + self.stuck_documents + self.shares_needing_staff


@dataclass(frozen=True)
class PracticeSettings:
    """The practice's settings as its practice service runs them: the ones the settings
    page shows, and which of them the policy of the service's machine locks. A workstation
    shows these, not its own config file's (its home holds no practice). Nothing secret:
    tokens and passphrases are in the keyring or the service's vault, never in the config.
    The workstation's own settings (language, tray, its log) are not here: they stay in
    its own config."""

    server_url: str
    practice_id: str
    platform_domain: str
    export_dir: str
    filename_pattern: str
    after_delivery: str
    max_document_mb: int
    max_request_days: int
    keep_processed_days: int
    keep_failed_days: int
    keep_messages_days: int
    practice_key_fingerprint: str
    number_only_matching: bool  # the service machine's policy: the deliveries page says so
    locked: tuple[str, ...] = ()

    @classmethod
    def names(cls) -> tuple[str, ...]:
        """The practice's settings by name (the Config keys); every other key is the machine's own."""
        return tuple(f.name for f in dataclasses.fields(cls) if f.name != "locked")

    @classmethod
    def of(cls, cfg: Config) -> PracticeSettings:
        keys = cls.names()
        return cls(**{key: getattr(cfg, key) for key in keys},
                   locked=tuple(sorted(key for key in cfg.locked if key in keys)))

    def over(self, own: Config) -> Config:
        """A workstation's config with the practice's values and locks in place of its
        own (the page reads one Config; the workstation's own settings stay its own)."""
        keys = self.names()
        return dataclasses.replace(own, **{key: getattr(self, key) for key in keys},
                                   locked=frozenset(k for k in own.locked if k not in keys) | frozenset(self.locked))


class DataSource(Protocol):
    """The GUI's reads. Every method blocks: call it from a worker thread only."""

    def overview(self) -> Overview:
        """The counts, from the database's indexes."""

    def verify_audit(self, full: bool = False) -> VerifyResult:
        """The audit chain checked: what is new since the last check, or (``full``) all of it."""

    def page(self, query: Query, after: SortKey | None = None, limit: int = PAGE_ROWS) -> Page:
        """The rows after ``after`` (the sort key of the last row already shown)."""

    def changes(self, query: Query, since: int, limit: int = MAX_CHANGES) -> Changes:
        """The rows of ``query`` that changed after cursor ``since``."""

    def assign_candidates(self) -> list[AssignCandidate]:
        """The only requests a file may be assigned to: accepted, not expired, of a patient
        in the PMS master data - each named by the PMS record."""

    def audit_events(self) -> list[str]:
        """The events the log holds (for the audit page's filter)."""

    def settings(self) -> PracticeSettings:
        """The practice's settings as they are in force (no secrets)."""
