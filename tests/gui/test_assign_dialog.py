"""The assign dialog through the real widgets: patients by the PMS record (never by what a
request claims), only accepted and current requests, and the birth date confirmed first."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from PySide6.QtCore import Qt

from practice_client.context import Context
from practice_client.core.models import DocumentState, Pin, RequestStatus
from practice_client.gui.controller import Controller
from practice_client.gui.dialogs.assign import DIFFERS_COLUMN, AssignDialog
from tests.support.delivery import unassigned_document
from tests.support.gui_state import add_request, good_checks
from tests.support.patients import ERIKA, GISELA


def open_dialog(qtbot, controller: Controller, document_id: str) -> AssignDialog:  # type: ignore[no-untyped-def]
    with qtbot.waitSignal(controller.assignCandidatesLoaded, timeout=30000):
        dialog = AssignDialog(controller, document_id, "scan_0815.pdf")
    qtbot.addWidget(dialog)
    dialog.show()
    return dialog


def rows(dialog: AssignDialog) -> list[list[str]]:
    items = [dialog.list.topLevelItem(i) for i in range(dialog.list.topLevelItemCount())]
    return [[item.text(c) for c in range(4)] for item in items]


def test_the_pms_record_is_shown_never_the_claim(qtbot, controller: Controller, client: Context) -> None:
    """A request that claims Gisela's name for Erika's key (accepted against all advice)
    shows as Erika - the PMS record - with the difference flagged, the claim in the tooltip."""
    client.store.upsert_patients([ERIKA, GISELA], "test")
    for patient, fpr in ((ERIKA, "E" * 40), (GISELA, "C" * 40)):  # their pins, as staff made them
        client.store.pin(Pin(fpr, patient.patient_number, patient.name, patient.birth_date, patient.phone or "",
                             "video", "2026-11-01T10:00:00Z", "2026-11-02T10:00:00Z", "certificate"))
    now = datetime.now(UTC)
    claiming = add_request(client.store, GISELA, good_checks(), RequestStatus.ACCEPTED, now, ["Befund"], None)
    honest = add_request(client.store, GISELA, good_checks(), RequestStatus.ACCEPTED, now, ["Arztbrief"], None)
    # the first one's patient is Erika (her pin signed it), whatever its JSON says
    client.store._db.execute(  # noqa: SLF001 - a state intake would leave for such a request
        "UPDATE requests SET patient_number='1001', patient_fingerprint=? WHERE request_id=?", ("E" * 40, claiming))
    dialog = open_dialog(qtbot, controller, unassigned_document(client))
    assert rows(dialog) == [["Erika Mustermann", "12.08.1964", "1001", "Abweichung – siehe Tooltip"],
                            ["Gisela Beispiel", "05.05.1975", "1003", "OK"]]
    tooltip = dialog.list.topLevelItem(0).toolTip(DIFFERS_COLUMN)
    assert "Praxissoftware: Erika Mustermann" in tooltip and "Die Anfrage sagt: Gisela Beispiel" in tooltip
    assert {dialog.list.topLevelItem(i).data(0, Qt.ItemDataRole.UserRole) for i in range(2)} == {claiming, honest}


def test_only_accepted_current_requests_of_pms_patients_are_offered(
        qtbot, controller: Controller, client: Context) -> None:
    client.store.upsert_patients([ERIKA], "test")
    now = datetime.now(UTC)
    add_request(client.store, ERIKA, good_checks(), RequestStatus.OPEN, now, ["Befund"], None)
    add_request(client.store, ERIKA, good_checks(), RequestStatus.DECLINED, now, ["Befund"], None)
    add_request(client.store, ERIKA, good_checks(), RequestStatus.ACCEPTED, now - timedelta(days=20),
                ["Befund"], None)  # expired
    add_request(client.store, GISELA, good_checks(), RequestStatus.ACCEPTED, now, ["Befund"], None)  # not in the PMS
    dialog = open_dialog(qtbot, controller, unassigned_document(client))
    assert rows(dialog) == []
    assert "Keine Patientin" in dialog.status.text() or "Kein Patient" in dialog.status.text()


@pytest.mark.parametrize("typed", ["12.08.1964", "1964-08-12", "12081964"])
def test_assign_only_after_the_birth_date_is_confirmed(
        qtbot, controller: Controller, client: Context, typed: str) -> None:
    client.store.upsert_patients([ERIKA], "test")
    request_id = add_request(client.store, ERIKA, good_checks(), RequestStatus.ACCEPTED, datetime.now(UTC),
                             ["Befund"], None)
    document_id = unassigned_document(client)
    dialog = open_dialog(qtbot, controller, document_id)
    assert not dialog.ok.isEnabled(), "nothing is preselected"
    dialog.choose(request_id)
    assert not dialog.ok.isEnabled()
    qtbot.keyClicks(dialog.birth_date, "13.08.1964")
    assert not dialog.ok.isEnabled() and "passt nicht" in dialog.hint.text()
    dialog.accept()  # Enter in the field: still nothing
    assert client.store.get_document(document_id).state is DocumentState.UNASSIGNED  # type: ignore[union-attr]
    dialog.birth_date.clear()
    qtbot.keyClicks(dialog.birth_date, typed)
    assert dialog.ok.isEnabled() and "stimmt" in dialog.hint.text()
    with qtbot.waitSignal(controller.documentAssigned, timeout=30000):
        qtbot.mouseClick(dialog.ok, Qt.MouseButton.LeftButton)
    doc = client.store.get_document(document_id)
    assert doc is not None and doc.state is DocumentState.MATCHED and doc.request_id == request_id
