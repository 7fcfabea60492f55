"""The GUI's :class:`~practice_client.gui.viewmodels.DataSource` over this machine's store.

Every list is one indexed query per page or per refresh (keyset paging in the
order the store indexes; "changed since" by the rows' change stamps); the PMS
records and pins the rows name are fetched for the page's rows only, in two more
queries. Nothing here reads a whole table or the audit file. MUST NOT run in the
GUI thread (database, decryption).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from practice_client.core.audit import VerifyResult
from practice_client.core.models import Document, RequestRecord, Share
from practice_client.core.store import DOCUMENTS_BY_URGENCY, REQUESTS_BY_URGENCY, SHARES_BY_URGENCY, SortKey
from practice_client.delivery.recipients import AssignCandidate, assign_candidates
from practice_client.gui.viewmodels import (
    MAX_CHANGES,
    PAGE_ROWS,
    AuditRow,
    Changes,
    DataSource,
    DocumentView,
    ListKind,
    Overview,
    Page,
    PatientRow,
    PracticeSettings,
    Query,
    RequestView,
    Row,
    ShareView,
)

if TYPE_CHECKING:
    from practice_client.context import Context
    from practice_client.service.api import Views



class LocalSource:
    """Reads through ``ctx.store``; the practice service serves the same over HTTPS (:func:`service_views`)."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def overview(self) -> Overview:
        store = self.ctx.store
        cursor = store.change_cursor()  # first: whatever is read after it is at least as new
        patients, pinned = store.patient_counts()
        return Overview(
            cursor=cursor, waiting_requests=store.waiting_requests(), documents=store.document_counts(),
            patients=patients, pinned=pinned, configured=bool(self.ctx.config.practice_key_fingerprint),
            shares=store.share_counts(),
        )

    def verify_audit(self, full: bool = False) -> VerifyResult:
        return self.ctx.store.verify_audit(full=full)

    def page(self, query: Query, after: SortKey | None = None, limit: int = PAGE_ROWS) -> Page:
        cursor = self.ctx.store.change_cursor()
        rows = self._rows(query, after=after, limit=limit + 1)
        return Page(tuple(rows[:limit]), len(rows) > limit, cursor)

    def changes(self, query: Query, since: int, limit: int = MAX_CHANGES) -> Changes:
        store = self.ctx.store
        cursor = store.change_cursor()
        if query.kind is ListKind.AUDIT:  # append-only: the changes are the newer entries
            rows = self._audit(query, after=since, limit=limit + 1)
            return Changes(cursor, reset=True) if len(rows) > limit else Changes(cursor, tuple(rows))
        keys, more = store.changed_keys(str(query.kind), since, limit)
        if more:
            return Changes(cursor, reset=True)
        if not keys:
            return Changes(cursor)
        current = self._rows(query, keys=keys, limit=len(keys))
        found = {row.key for row in current}
        return Changes(cursor, tuple(current), tuple(k for k in keys if k not in found))

    def assign_candidates(self) -> list[AssignCandidate]:
        return assign_candidates(self.ctx)

    def audit_events(self) -> list[str]:
        return self.ctx.store.audit_events()

    def settings(self) -> PracticeSettings:
        return PracticeSettings.of(self.ctx.config)  # the config in force, as the last save reloaded it

    # -- rows ---------------------------------------------------------------------------------

    def _rows(self, query: Query, *, after: SortKey | None = None, keys: Iterable[str] | None = None,
              limit: int) -> list[Row]:
        store = self.ctx.store
        if query.kind is ListKind.REQUESTS:
            return list(self._request_views(store.page_requests(
                REQUESTS_BY_URGENCY, search=query.search, after=after, keys=keys, limit=limit)))
        if query.kind is ListKind.DOCUMENTS:
            return list(self._document_views(store.page_documents(
                DOCUMENTS_BY_URGENCY, search=query.search, after=after, keys=keys, limit=limit)))
        if query.kind is ListKind.PATIENTS:
            return list(self._patient_rows(store.page_patient_numbers(
                search=query.search, after=after, keys=keys, limit=limit)))
        if query.kind is ListKind.SHARES:
            return list(self._share_views(store.page_shares(
                SHARES_BY_URGENCY, search=query.search, after=after, keys=keys, limit=limit)))
        before = int(after[0]) if after else None
        return list(self._audit(query, before=before, limit=limit))

    def _request_views(self, pairs: list[tuple[SortKey, RequestRecord]]) -> list[RequestView]:
        store = self.ctx.store
        patients = store.patients_by_number(r.patient_number for _, r in pairs if r.patient_number)
        pins = store.pins_by("fingerprint", (r.patient_fingerprint for _, r in pairs if r.patient_fingerprint))
        return [RequestView(record, patients.get(record.patient_number or ""),
                            pins.get(record.patient_fingerprint or ""), sort) for sort, record in pairs]

    def _document_views(self, pairs: list[tuple[SortKey, Document]]) -> list[DocumentView]:
        store = self.ctx.store
        numbers = {rid: number for rid, (number, _fpr) in
                   store.request_patients(d.request_id for _, d in pairs if d.request_id).items()}
        patients = store.patients_by_number(n for n in numbers.values() if n)
        views = []
        for sort, doc in pairs:
            number = numbers.get(doc.request_id or "") or ""
            views.append(DocumentView(doc, patients.get(number), number, sort))
        return views

    def _share_views(self, pairs: list[tuple[SortKey, Share]]) -> list[ShareView]:
        """Each share with the PMS record of its verified patient (one query for the page)."""
        patients = self.ctx.store.patients_by_number(s.patient_number for _, s in pairs if s.patient_number)
        return [ShareView(share, patients.get(share.patient_number or ""), sort) for sort, share in pairs]

    def _patient_rows(self, pairs: list[tuple[SortKey, str]]) -> list[PatientRow]:
        store = self.ctx.store
        numbers = [number for _, number in pairs]
        patients = store.patients_by_number(numbers)
        pins = store.pins_by("patient_number", numbers)
        rows = []
        for sort, number in pairs:
            patient, pin = patients.get(number), pins.get(number)
            if patient is not None:
                rows.append(PatientRow(number, patient.name, patient.birth_date, patient.phone or "", pin, True, sort))
            elif pin is not None:  # pinned, but the PMS data does not hold the patient (yet)
                rows.append(PatientRow(number, pin.name, pin.birth_date, pin.phone, pin, False, sort))
        return rows

    def _audit(self, query: Query, **where: Any) -> list[AuditRow]:
        entries = self.ctx.store.audit_page(event=query.event, search=query.search, **where)
        return [AuditRow(int(e.get("seq", 0)), str(e.get("time", "")), str(e.get("event", "")),
                         e["details"] if isinstance(e.get("details"), dict) else {}) for e in entries]


def service_views(ctx: Context) -> Views:
    """What the practice service serves its workstations: this DataSource over the
    service's store, its methods one to one (the service's layer does not import the GUI's)."""
    from practice_client.service.api import Views, interface_methods

    return Views(LocalSource(ctx), interface_methods(DataSource))
