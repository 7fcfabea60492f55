"""Versand through the real widgets: assign an unassigned file, retry a failed delivery."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from practice_client.context import Context
from practice_client.core.models import DocumentState, Patient, RequestStatus
from practice_client.core.text import Text
from practice_client.delivery import outbox
from practice_client.gui.main_window import MainWindow
from practice_client.gui.pages.deliveries import DeliveriesPage
from tests.support.delivery import unassigned_document
from tests.support.gui_state import add_request, controller_under_policy, good_checks, refresh, settle
from tests.support.patients import ERIKA, GISELA
from tests.support.worlds import write_file


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


def test_a_failed_documents_reason_is_shown_in_the_gui_language_only(qtbot, window: MainWindow,
                                                                     client: Context) -> None:
    document_id = unassigned_document(client)
    doc = client.store.get_document(document_id)
    assert doc is not None
    outbox.fail(client, doc, Text("Plattform lehnt ab: Datei zu groß", "the platform refused: file too large"))
    shown = cells(select(qtbot, window, document_id))
    assert shown[0] == "Fehlgeschlagen" and shown[-1] == "Plattform lehnt ab: Datei zu groß"  # no English beside


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


def test_a_document_is_named_by_the_pms_record_not_by_the_requests_claim(
    qtbot, window: MainWindow, client: Context, tmp_path: Path
) -> None:
    client.store.upsert_patients([ERIKA], "test")
    claimed = Patient(ERIKA.patient_number, "Erika Musterfrau", "1964-08-13", ERIKA.phone)
    rid = add_request(client.store, claimed, good_checks(), RequestStatus.ACCEPTED, datetime.now(UTC),
                      ["Befund"], None)
    letter = write_file(tmp_path / "befund.pdf", b"%PDF-1.4 Befund\n" * 20)
    (doc,) = outbox.add_files(client, [letter], rid)
    shown = cells(select(qtbot, window, doc.document_id))
    assert "Erika Mustermann" in shown and "12.08.1964" in shown and "1001" in shown
    assert not any("Musterfrau" in str(cell) or "13.08.1964" in str(cell) for cell in shown)


def test_the_number_only_policy_is_noted_where_staff_see_the_files(
    qtbot, window: MainWindow, gui_app: QApplication, client: Context, monkeypatch: pytest.MonkeyPatch,
    work_dir: Path,
) -> None:
    assert window.pages["deliveries"].policy_note.isHidden(), "by default every match needs two identifiers"
    with controller_under_policy("number_only_matching = true\n", work_dir, monkeypatch) as controller:
        page = DeliveriesPage(controller)
        qtbot.addWidget(page)
        assert not page.policy_note.isHidden() and "Patientennummer" in page.policy_note.text()
