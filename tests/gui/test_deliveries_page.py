"""Versand through the real widgets: assign an unassigned file, retry a failed delivery."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from PySide6.QtCore import Qt

from practice_client.context import Context
from practice_client.core.models import DocumentState, Patient, RequestStatus
from practice_client.delivery import outbox
from practice_client.gui.main_window import MainWindow
from tests.delivery.conftest import write_file
from tests.gui.conftest import refresh, settle
from tests.gui.state import add_request, good_checks

GISELA = Patient("1003", "Gisela Beispiel", "1975-05-05", "+491711234569")
ERIKA = Patient("1001", "Erika Mustermann", "1964-08-12", "+491711234567")


def unassigned_document(ctx: Context) -> str:
    """A file the PMS dropped that matches no request: the real intake path (ingest)."""
    path = write_file(Path(ctx.config.export_dir) / "scan_0815.pdf", b"scan" * 100)
    doc = outbox.ingest(ctx, path)
    assert doc.state is DocumentState.UNASSIGNED
    return doc.document_id


def select(qtbot, window: MainWindow, document_id: str):  # type: ignore[no-untyped-def]
    refresh(qtbot, window.controller)
    window.show_page("deliveries")
    settle(qtbot, window.controller)  # the list is read when the page is first shown
    page = window.pages["deliveries"]
    page.select(document_id)
    assert page.current_document_id() == document_id
    return page


def cells(page) -> list[str]:  # type: ignore[no-untyped-def]
    """The selected row's texts, column by column."""
    row = page.list.currentIndex().row()
    return [page.model.index(row, c).data() for c in range(page.model.columnCount())]


def test_assign_offers_only_accepted_requests_with_name_and_birth_date(
    qtbot, window: MainWindow, client: Context
) -> None:
    now = datetime.now(UTC)
    client.store.upsert_patients([GISELA, ERIKA], "praxis.gdt")  # the dialog names patients by the PMS record
    accepted = add_request(client.store, GISELA, good_checks(), RequestStatus.ACCEPTED, now, ["Befund"], None)
    add_request(client.store, ERIKA, good_checks(), RequestStatus.OPEN, now, ["Befund"], None)
    add_request(client.store, ERIKA, good_checks(), RequestStatus.DECLINED, now, ["Befund"], None)
    document_id = unassigned_document(client)
    page = select(qtbot, window, document_id)
    assert page.assign_button.isEnabled() and not page.retry_button.isEnabled()
    with qtbot.waitSignal(window.controller.assignCandidatesLoaded, timeout=30000):
        qtbot.mouseClick(page.assign_button, Qt.MouseButton.LeftButton)
    assert page.dialog is not None and page.dialog.isVisible()
    dialog = page.dialog
    offered = [dialog.list.topLevelItem(i) for i in range(dialog.list.topLevelItemCount())]
    assert [(i.text(0), i.text(1)) for i in offered] == [("Gisela Beispiel", "05.05.1975")]
    assert not dialog.ok.isEnabled(), "nothing is preselected: staff choose explicitly"
    dialog.choose(accepted)
    assert not dialog.ok.isEnabled(), "the birth date is confirmed first"
    qtbot.keyClicks(dialog.birth_date, "05.05.1975")
    assert dialog.ok.isEnabled()
    with qtbot.waitSignal(window.controller.documentAssigned, timeout=30000):
        qtbot.mouseClick(dialog.ok, Qt.MouseButton.LeftButton)
    doc = client.store.get_document(document_id)
    assert doc is not None and doc.state is DocumentState.MATCHED and doc.request_id == accepted
    assert doc.match_method == "staff"


def test_assign_to_a_request_that_is_not_accepted_is_refused(qtbot, window: MainWindow, client: Context) -> None:
    open_request = add_request(client.store, ERIKA, good_checks(), RequestStatus.OPEN, datetime.now(UTC),
                               ["Befund"], None)
    document_id = unassigned_document(client)
    with qtbot.waitSignal(window.controller.failed, timeout=30000) as failed:
        window.controller.assign(document_id, open_request, "12.08.1964")
    assert failed.args[0] == "assign"
    doc = client.store.get_document(document_id)
    assert doc is not None and doc.state is DocumentState.UNASSIGNED and doc.request_id is None


def test_failed_delivery_shows_reason_and_retries(qtbot, window: MainWindow, client: Context) -> None:
    document_id = unassigned_document(client)
    doc = client.store.get_document(document_id)
    assert doc is not None
    outbox.fail(client, doc, "Plattform nicht erreichbar (Zeitueberschreitung)")
    page = select(qtbot, window, document_id)
    shown = cells(page)
    assert shown[0] == "Fehlgeschlagen" and "Zeitueberschreitung" in shown[-1]
    assert page.retry_button.isEnabled() and not page.assign_button.isEnabled()
    with qtbot.waitSignal(window.controller.documentRetried, timeout=30000):
        qtbot.mouseClick(page.retry_button, Qt.MouseButton.LeftButton)
    retried = client.store.get_document(document_id)
    assert retried is not None and retried.state is not DocumentState.FAILED
    qtbot.waitUntil(lambda: not page.retry_button.isEnabled(), timeout=10000)
