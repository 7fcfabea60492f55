"""The window on five years of a practice: 50,000 documents, 2,000 requests, 1,000
patients and the audit trail they left (~260,000 entries), written through the store.

Every page opens and shows the first page of its list - never the whole list; scrolling
reads the next page; a search runs in the database; a change made elsewhere arrives as
that one change; live progress reaches its row. (The old window built a widget row for
every document on every refresh and could not even open such a home.) How long each
step takes is measured by ``make bench``, not here."""

from __future__ import annotations

import pytest

from practice_client.context import Context
from practice_client.core.models import Document, DocumentState
from practice_client.gui.controller import Controller
from practice_client.gui.main_window import PAGES, MainWindow
from practice_client.gui.tray import Tray
from practice_client.gui.viewmodels import PAGE_ROWS, DocumentView
from tests.support.gui_state import BIG_HOME, refresh, settle

pytestmark = pytest.mark.slow


def test_every_page_opens_on_a_50000_document_home(qtbot, big_client: Context) -> None:
    controller = Controller(big_client)
    try:
        window = MainWindow(controller, Tray(controller))
        qtbot.addWidget(window)
        window.resize(1280, 800)
        window.show()
        refresh(qtbot, controller)
        for page in PAGES:
            window.show_page(page)
            settle(qtbot, controller)
            assert window.pages[page].isVisible()
        requests, deliveries = window.pages["requests"], window.pages["deliveries"]
        patients, audit = window.pages["patients"], window.pages["audit"]
        for model in (requests.model, deliveries.model, patients.model, audit.model):
            assert model.rowCount() == PAGE_ROWS and model.more, "one page read, not the whole list"
        assert controller.overview.count(DocumentState.DELIVERED) == BIG_HOME.documents - 5
        assert "2 Dokument(e) brauchen Ihre Aufmerksamkeit, 3 unterwegs" in deliveries.summary.text()
        assert "1000 Patient(en), davon 800" in patients.summary.text()
        # what needs staff is on top: the failed document, then the unassigned one
        first = [deliveries.model.row_at(n) for n in range(3)]
        assert [v.state for v in first if isinstance(v, DocumentView)][:2] == [DocumentState.FAILED,
                                                                                DocumentState.UNASSIGNED]

        # scrolling to the end of the list reads the next page
        window.show_page("deliveries")
        deliveries.list.scrollToBottom()
        qtbot.waitUntil(lambda: deliveries.model.rowCount() == 2 * PAGE_ROWS, timeout=30000)
        settle(qtbot, controller)

        # a change made elsewhere (the agent, another workstation) arrives as that change
        loaded = deliveries.model.rowCount()
        big_client.store.add_document(Document("feed" + "0" * 32, DocumentState.DETECTED, "Scan_0001.pdf",
                                               "/srv/export/Scan_0001.pdf", 1000, "0" * 64,
                                               "2099-01-01T00:00:00Z", "2099-01-01T00:00:00Z"))
        big_client.store.transition("feed" + "0" * 32, DocumentState.UNASSIGNED)
        refresh(qtbot, controller)
        assert deliveries.model.rowCount() == loaded + 1
        assert deliveries.model.row_of("feed" + "0" * 32) is not None
        assert "3 Dokument(e) brauchen Ihre Aufmerksamkeit" in deliveries.summary.text()

        # live progress reaches its row, and only its cell
        uploading = next(v for v in deliveries.model.rows()
                         if isinstance(v, DocumentView) and v.state is DocumentState.UPLOADING)
        changed: list[int] = []
        deliveries.model.dataChanged.connect(lambda top, bottom, _roles: changed.append(top.column()))
        for done in range(0, 101, 10):
            controller.documentProgress.emit(uploading.document_id, "uploading", done, 100)
        assert deliveries.model.progress[uploading.document_id][0] == 100
        assert set(changed) == {6}

        # searches and filters run in the database
        patients.search.setText("10005")
        qtbot.waitUntil(lambda: patients.model.query.search == "10005", timeout=5000)
        settle(qtbot, controller)
        assert {r.key for r in patients.model.rows()} == {"100050", "100051", "100052", "100053", "100054",
                                                          "100055", "100056", "100057", "100058", "100059"}
        window.show_page("audit")
        audit.kind.setCurrentIndex(audit.kind.findData("document.failed"))
        settle(qtbot, controller)
        assert [e.event for e in audit.model.rows()] == ["document.failed"]
    finally:
        controller.shutdown()
