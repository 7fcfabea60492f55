"""A working day in fast motion: the real window, left open over a home of a few years,
through 2,000 refreshes and 40,000 progress updates while documents are delivered and
new ones arrive (a change every few refreshes, as the agent makes them), staff moving
between the pages. The window must survive it with every reference intact (PySide6 6.12
on Python 3.11 lost a reference to None on every void Qt call and aborted within a few
refreshes of such a home), every list must show what the store holds, and no list may
have read more than it shows (refreshes bring changes, not lists)."""

from __future__ import annotations

import gc
import sys
from datetime import UTC, datetime

import pytest

from practice_client.core.models import DocumentState, RequestStatus
from practice_client.gui.controller import Controller
from practice_client.gui.main_window import PAGES, MainWindow
from practice_client.gui.tray import Tray
from practice_client.gui.viewmodels import PAGE_ROWS, DocumentView
from practice_client.testbed.history import HistorySize, build_history
from tests.support.gui_state import DEMO_PATIENTS, add_document, add_request, good_checks, refresh, settle

pytestmark = pytest.mark.slow

HISTORY = HistorySize(years=2, patients=300, pinned=200, requests=400, documents=2_000)
ON_THE_WAY = 100
REFRESHES = 2_000
PROGRESS_PER_REFRESH = 20
CHANGE_EVERY = 5  # refreshes; each change delivers one document and brings a new one
D = DocumentState
ON_ITS_WAY = [D.MATCHED, D.ENCRYPTED, D.UPLOADING]


def test_the_window_survives_a_working_day_of_refreshes_and_progress(qtbot, controller: Controller) -> None:
    store = controller.ctx.store
    build_history(store, HISTORY)
    still_uploading = {d.document_id for _key, d in store.page_documents(states=[str(D.UPLOADING)])}
    store.upsert_patients(DEMO_PATIENTS[:1], "praxis.gdt")
    request_id = add_request(store, DEMO_PATIENTS[0], good_checks(), RequestStatus.ACCEPTED, datetime.now(UTC),
                             ["Arztbrief"], None)
    with store.batch():
        uploading = [add_document(store, f"10234_Befund_{i:04d}.pdf", 100_000 + i, ON_ITS_WAY, request_id)
                     for i in range(ON_THE_WAY)]
    window = MainWindow(controller, Tray(controller))
    qtbot.addWidget(window)
    window.resize(1280, 800)
    window.show()
    for page in PAGES:  # every list read once; from here on refreshes bring their changes
        window.show_page(page)
        settle(qtbot, controller)
    window.show_page("deliveries")
    deliveries = window.pages["deliveries"].model
    refresh(qtbot, controller)
    gc.collect()  # garbage not yet collected holds references to None too
    none_before = sys.getrefcount(None)
    arrived = 0
    for round_ in range(REFRESHES):
        for k in range(PROGRESS_PER_REFRESH):
            doc = uploading[(round_ * PROGRESS_PER_REFRESH + k) % len(uploading)]
            controller.documentProgress.emit(doc, "uploading", k + 1, PROGRESS_PER_REFRESH)
        if round_ % CHANGE_EVERY == 0:  # the agent delivers one and the PMS exports the next
            done = uploading.pop(0)
            store.transition(done, D.DELIVERED, delivered_at=datetime.now(UTC).isoformat())
            uploading.append(add_document(store, f"10234_Brief_{round_:05d}.pdf", 5_000, ON_ITS_WAY, request_id))
            arrived += 1
        if round_ % 250 == 0:
            window.show_page(PAGES[(round_ // 250) % 4])
        with qtbot.waitSignal(controller.overviewLoaded, timeout=30000):
            controller.refresh()
    settle(qtbot, controller)
    # Before 3.12 a sound pair keeps None's count, and a leaking one loses several per row
    # and refresh - millions here - and would have aborted long before. From 3.12 on None
    # is immortal: the interpreter itself lets its count wander (it returns None without
    # a reference once an extension has touched the count) and nothing can free it.
    gc.collect()
    if sys.version_info < (3, 12):
        assert sys.getrefcount(None) >= none_before - 1000
    assert window.isVisible()
    # the lists show what the store holds: the active documents all at the top, current
    active = [v for v in deliveries.rows() if isinstance(v, DocumentView) and v.state is D.UPLOADING]
    assert {v.document_id for v in active} == set(uploading) | still_uploading
    assert controller.overview.count(D.DELIVERED) == HISTORY.documents - 5 + arrived
    assert controller.overview.count(D.UPLOADING) == ON_THE_WAY + len(still_uploading)
    for page in ("requests", "patients", "audit"):
        model = window.pages[page].model
        assert model.rowCount() <= PAGE_ROWS + REFRESHES * 3, f"the {page} list read more than changed"
    assert deliveries.rowCount() <= PAGE_ROWS + arrived, "refreshes brought changes, not whole lists"
