"""A working day in fast motion: the real window, left open, through refreshes and
progress updates over a home with 800 documents (600 delivered, 200 on their way) and
the audit trail they left. The window must survive it with every reference intact
(PySide6 6.12 on Python 3.11 lost a reference to None on every void Qt call and
aborted the process within a few refreshes of such a home)."""

from __future__ import annotations

import gc
import sys
from datetime import UTC, datetime

import pytest

from practice_client.context import Context
from practice_client.core.models import DocumentState, RequestStatus
from practice_client.gui.controller import Controller
from practice_client.gui.main_window import MainWindow
from practice_client.gui.tray import Tray
from tests.gui.conftest import refresh
from tests.gui.state import PATIENTS, add_document, add_request, good_checks

pytestmark = pytest.mark.slow

UPLOADING = 200
DELIVERED = 600
REFRESHES = 60
PROGRESS_PER_REFRESH = 30


def seed(ctx: Context) -> list[str]:
    """Requests and documents through the real store (each change audited)."""
    store = ctx.store
    store.upsert_patients(PATIENTS, "praxis.gdt")
    request_id = add_request(store, PATIENTS[0], good_checks(), RequestStatus.ACCEPTED, datetime.now(UTC),
                             ["Arztbrief"], None)
    d = DocumentState
    for i in range(DELIVERED):
        add_document(store, f"10234_Arztbrief_{i:04d}.pdf", 90_000 + i,
                     [d.MATCHED, d.ENCRYPTED, d.UPLOADING, d.DELIVERED], request_id)
    return [add_document(store, f"10234_Befund_{i:04d}.pdf", 100_000 + i, [d.MATCHED, d.ENCRYPTED, d.UPLOADING],
                         request_id) for i in range(UPLOADING)]


def test_the_window_survives_a_working_day_of_refreshes_and_progress(qtbot, controller: Controller) -> None:
    ids = seed(controller.ctx)
    window = MainWindow(controller, Tray(controller))
    qtbot.addWidget(window)
    window.resize(1280, 800)
    window.show()
    window.show_page("deliveries")
    refresh(qtbot, controller)
    gc.collect()  # garbage not yet collected holds references to None too
    none_before = sys.getrefcount(None)
    for round_ in range(REFRESHES):
        for k in range(PROGRESS_PER_REFRESH):
            doc = ids[(round_ * PROGRESS_PER_REFRESH + k) % len(ids)]
            controller.documentProgress.emit(doc, "upload", k + 1, PROGRESS_PER_REFRESH)
        refresh(qtbot, controller)
    # a sound pair keeps None's count (3.12+: immortal, constant); a leaking one loses
    # several per row and refresh - millions here - and would have aborted long before
    gc.collect()
    assert sys.getrefcount(None) >= none_before - 1000
    assert window.isVisible()
    assert len(window.controller.snapshot.documents) == UPLOADING + DELIVERED
