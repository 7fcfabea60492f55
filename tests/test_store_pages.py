"""Lists that scale: keyset pages in the lists' orders (every row exactly once, also while
rows change between pages), "what changed since cursor N" from the rows' change
stamps - passed on to the rows that show a changed patient or request - counts from
the indexes, searches in the database, and many audited changes in one batch."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from practice_client.context import Context
from practice_client.core.errors import StateError
from practice_client.core.models import Document, DocumentState, Patient, RequestStatus
from practice_client.core.store import DOCUMENTS_BY_URGENCY, REQUESTS_BY_URGENCY, REQUESTS_NEWEST
from tests.support.gui_state import add_document, add_request, good_checks, populate
from tests.support.patients import ERIKA

D = DocumentState


@pytest.fixture
def ctx(client_home: Path) -> Iterator[Context]:
    context = Context()
    yield context
    context.close()


def all_pages(fetch, size: int) -> list:  # type: ignore[no-untyped-def]
    """Every row, a page of ``size`` at a time, each page after the last row of the one before."""
    rows, after = [], None
    while True:
        page = fetch(after, size)
        rows += page
        if len(page) < size:
            return rows
        after = page[-1][0]


def test_requests_page_in_urgency_order_each_exactly_once(ctx: Context) -> None:
    store = ctx.store
    now = datetime.now(UTC).replace(microsecond=0)
    statuses = [RequestStatus.OPEN, RequestStatus.ACCEPTED, RequestStatus.DECLINED] * 7
    for number, status in enumerate(statuses):  # a few share their arrival second: the key breaks ties
        add_request(store, ERIKA, good_checks(), status, now - timedelta(minutes=number // 2), ["Befund"], None)
    paged = all_pages(lambda after, size: store.page_requests(REQUESTS_BY_URGENCY, after=after, limit=size), 4)
    records = [r for _, r in paged]
    assert len({r.message_sha256 for r in records}) == len(statuses) == len(records)
    ranks = [{"open": 1, "accepted": 3, "declined": 4}[str(r.status)] for r in records]
    assert ranks == sorted(ranks)
    for rank in set(ranks):  # newest first within a rank
        times = [r.received_at for r, k in zip(records, ranks, strict=True) if k == rank]
        assert times == sorted(times, reverse=True)
    newest = [r for _, r in store.page_requests(REQUESTS_NEWEST, limit=100)]
    assert [r.received_at for r in newest] == sorted((r.received_at for r in newest), reverse=True)


def test_pages_stay_whole_while_rows_change_between_them(ctx: Context) -> None:
    store = ctx.store
    ids = [add_document(store, f"{n:03d}.pdf", 10, [D.UNASSIGNED], None) for n in range(30)]
    first = store.page_documents(DOCUMENTS_BY_URGENCY, limit=10)
    for doc_id in ids[:5]:  # rows move while staff look at the first page
        store.transition(doc_id, D.FAILED, error="x")
    rest = all_pages(lambda after, size: store.page_documents(
        DOCUMENTS_BY_URGENCY, after=after or first[-1][0], limit=size), 7)
    seen = [d.document_id for _, d in first + rest]
    assert set(ids) - set(seen) <= set(ids[:5]), "no row that stayed in place is skipped"
    assert len(seen) == len(set(seen)), "no row twice after the boundary"


def test_changes_since_a_cursor_reach_the_rows_that_show_them(ctx: Context) -> None:
    store = ctx.store
    state = populate(store)
    cursor = store.change_cursor()
    assert store.changed_keys("requests", cursor, 50) == ([], False)
    store.decide(state.requests["verified"], RequestStatus.ACCEPTED, None, False)
    keys, more = store.changed_keys("requests", cursor, 50)
    assert len(keys) == 1 and not more
    assert store.page_requests(keys=keys)[0][1].request_id == state.requests["verified"]
    # the PMS renames a patient: their requests and those requests' documents change on screen
    cursor = store.change_cursor()
    store.upsert_patients([Patient("10234", "Erika Musterfrau", "1964-08-12", "+491711234567")], "praxis.gdt")
    requests, _ = store.changed_keys("requests", cursor, 50)
    documents, _ = store.changed_keys("documents", cursor, 50)
    assert {r.request_id for _, r in store.page_requests(keys=requests)} == {state.requests["accepted"]}
    assert set(documents) == {v for k, v in state.documents.items() if k not in ("unassigned", "detected")}
    assert store.changed_keys("patients", cursor, 50) == (["10234"], False)
    # a removed pin: the patient's row changes, a pin-only row leaves
    cursor = store.change_cursor()
    store.unpin(state.pins["10871"])
    assert store.changed_keys("patients", cursor, 50) == (["10871"], False)
    assert store.page_patient_numbers(keys=["10871"])[0][1] == "10871"
    # more than the limit: the caller reads the list again instead
    cursor = store.change_cursor()
    with store.batch():
        for n in range(12):
            add_document(store, f"x{n}.pdf", 1, [], None)
    assert store.changed_keys("documents", cursor, 10)[1] is True


def test_search_runs_in_the_database(ctx: Context) -> None:
    store = ctx.store
    state = populate(store)
    assert [n for _, n in store.page_patient_numbers(search="110")] == ["11002"]
    fingerprint = state.pins["10871"]
    spaced = " ".join(fingerprint[i:i + 4] for i in range(0, 12, 4)).lower()
    assert [n for _, n in store.page_patient_numbers(search=spaced)] == ["10871"]
    found = store.page_requests(search="11230")
    assert [r.request_id for _, r in found] == [state.requests["rejected"]]
    assert {d.document_id for _, d in store.page_documents(search="10234")} >= {state.documents["delivered"]}
    assert store.audit_page(search=fingerprint[:8].lower(), event="trust.pinned")[0]["details"]["fingerprint"] \
        == fingerprint
    assert store.audit_page(search="no-such-id") == []


def test_counts_come_from_the_indexes(ctx: Context) -> None:
    store = ctx.store
    populate(store)
    assert store.waiting_requests() == 2
    assert store.document_counts() == {s: 1 for s in (D.DELIVERED, D.UPLOADING, D.MATCHED, D.FAILED, D.UNASSIGNED,
                                                      D.DETECTED)}
    assert store.patient_counts() == (5, 3)
    assert store.count_requests(["open"]) == 2 and store.count_documents(["failed", "delivered"]) == 2


def test_a_batch_audits_each_change_and_undoes_only_what_failed(ctx: Context) -> None:
    store = ctx.store
    before = store.audit_head().seq
    with store.batch():
        good = add_document(store, "a.pdf", 1, [D.MATCHED], "r-1")
        with pytest.raises(StateError):
            store.transition(good, D.DELIVERED)  # not allowed from matched: undone alone
        add_document(store, "b.pdf", 1, [], None)
    assert store.audit_head().seq == before + 3
    assert store.verify_audit(full=True).ok
    with pytest.raises(RuntimeError), store.batch():
        add_document(store, "c.pdf", 1, [], None)
        raise RuntimeError("power cut")
    assert store.audit_head().seq == before + 3 and store.count_documents() == 2
    assert store.verify_audit(full=True).ok


def test_a_removed_document_leaves_a_tombstone(ctx: Context) -> None:
    store = ctx.store
    doc_id = str(uuid.uuid4())
    store.add_document(Document(doc_id, D.DETECTED, "x.pdf", "/x", 1, "0" * 64, "2026-01-01T00:00:00Z",
                                "2026-01-01T00:00:00Z"))
    cursor = store.change_cursor()
    with store.transaction("document.removed", {"document_id": doc_id}) as db:  # as retention would
        db.execute("DELETE FROM documents WHERE document_id=?", (doc_id,))
    assert store.changed_keys("documents", cursor, 10) == ([doc_id], False)
    assert store.page_documents(keys=[doc_id]) == []
