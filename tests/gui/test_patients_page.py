"""Patienten through the real widgets: import a trust certificate (drop + fingerprint
dialog), refuse a forged one, remove a pin only after confirmation."""

from __future__ import annotations

import shutil
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QMessageBox

from practice_client.context import Context
from practice_client.gui.formatting import fingerprint_groups
from practice_client.gui.main_window import MainWindow
from practice_client.testbed.identity import IdentityAuthority
from tests.conftest import short_tmpdir
from tests.support.gui_desktop import drag_and_drop
from tests.support.gui_state import refresh, settle
from tests.support.patients import ERIKA
from tests.support.worlds import World, pin_patient


def patients_page(qtbot, window: MainWindow):  # type: ignore[no-untyped-def]
    refresh(qtbot, window.controller)
    window.show_page("patients")
    settle(qtbot, window.controller)  # the list is read when the page is first shown
    return window.pages["patients"]


def test_import_certificate_by_drop_compare_and_pin(
    qtbot, window: MainWindow, client: Context, world: World, tmp_path: Path
) -> None:
    client.store.upsert_patients([ERIKA], "test")
    patient = world.patients["1001"]
    cert = tmp_path / "erika.trust.asc"
    cert.write_text(patient.trust_certificate(world.authority), encoding="ascii")
    page = patients_page(qtbot, window)
    with qtbot.waitSignal(window.controller.certificateInspected, timeout=30000):
        entered, dropped = drag_and_drop(page, [cert])
    assert entered and dropped
    qtbot.waitUntil(lambda: page.dialog is not None and page.dialog.isVisible(), timeout=5000)
    dialog = page.dialog
    shown = [w.text() for w in dialog.findChildren(QLabel) if len(w.text()) == 4 and w.text().isalnum()]
    assert shown == fingerprint_groups(patient.fingerprint), "the fingerprint is read in groups of four"
    assert dialog.patient_number() == "1001", "the one PMS patient with this name and birth date is proposed"
    assert not dialog.ok.isEnabled(), "pinning needs the confirmed comparison"
    dialog.confirm.setChecked(True)
    with qtbot.waitSignal(window.controller.certificatePinned, timeout=30000) as pinned:
        qtbot.mouseClick(dialog.ok, Qt.MouseButton.LeftButton)
    assert pinned.args == [patient.fingerprint]
    pin = client.store.get_pin(patient.fingerprint)
    assert pin is not None and pin.patient_number == "1001"
    # the list says how the platform checked the patient's identity before attesting the key
    refresh(qtbot, window.controller)
    model = page.model
    headers = [model.headerData(c, Qt.Orientation.Horizontal) for c in range(model.columnCount())]
    row = next(r for r in range(model.rowCount()) if model.index(r, headers.index("Patientennr.")).data() == "1001")
    assert pin.ident == "video"
    assert model.index(row, headers.index("Identität geprüft durch")).data() == "Videoidentifikation"


def test_forged_certificate_is_refused_before_any_dialog(
    qtbot, window: MainWindow, client: Context, world: World, tmp_path: Path
) -> None:
    client.store.upsert_patients([ERIKA], "test")
    impostor_dir = short_tmpdir("pci")
    impostor = IdentityAuthority.create(impostor_dir)
    try:
        forged = tmp_path / "forged.trust.asc"
        forged.write_text(world.patients["1001"].trust_certificate(impostor), encoding="ascii")
        page = patients_page(qtbot, window)
        with qtbot.waitSignal(window.controller.failed, timeout=30000) as failed:
            page.import_certificate(forged)
        assert failed.args[0] == "inspect_certificate" and "forged.trust.asc" in failed.args[1]
        assert page.dialog is None
        assert client.store.list_pins() == []
    finally:
        impostor.close()
        shutil.rmtree(impostor_dir, ignore_errors=True)


def test_remove_pin_only_after_confirmation(qtbot, window: MainWindow, client: Context, world: World) -> None:
    patient = pin_patient(client, world, "1001")
    page = patients_page(qtbot, window)
    assert page.select("1001")
    assert page.remove_button.isEnabled()
    qtbot.mouseClick(page.remove_button, Qt.MouseButton.LeftButton)
    box = page.dialog
    assert isinstance(box, QMessageBox) and box.isVisible()
    qtbot.mouseClick(box.button(QMessageBox.StandardButton.Cancel), Qt.MouseButton.LeftButton)
    assert client.store.get_pin(patient.fingerprint) is not None, "cancel keeps the pin"
    qtbot.mouseClick(page.remove_button, Qt.MouseButton.LeftButton)
    box = page.dialog
    remove = next(b for b in box.buttons() if box.buttonRole(b) == QMessageBox.ButtonRole.DestructiveRole)
    with qtbot.waitSignal(window.controller.pinRemoved, timeout=30000):
        qtbot.mouseClick(remove, Qt.MouseButton.LeftButton)
    assert client.store.get_pin(patient.fingerprint) is None


def test_repin_replaces_only_for_that_patient_and_a_silent_replace_is_refused(
    qtbot, window: MainWindow, client: Context, world: World, tmp_path: Path
) -> None:
    from practice_client.testbed.patient import SimulatedPatient

    old = pin_patient(client, world, "1001")
    device_dir = short_tmpdir("pcn")
    new_device = SimulatedPatient.create(device_dir, ERIKA.name, ERIKA.birth_date, ERIKA.phone)
    try:
        cert = tmp_path / "erika-new-phone.trust.asc"
        cert.write_text(new_device.trust_certificate(world.authority), encoding="ascii")
        page = patients_page(qtbot, window)
        # an ordinary import must not replace the existing pin behind staff's back
        with qtbot.waitSignal(window.controller.certificateInspected, timeout=30000):
            page.import_certificate(cert)
        page.dialog.confirm.setChecked(True)
        with qtbot.waitSignal(window.controller.failed, timeout=30000) as failed:
            qtbot.mouseClick(page.dialog.ok, Qt.MouseButton.LeftButton)
        assert failed.args[0] == "pin_certificate"
        assert client.store.get_pin_for_patient("1001").fingerprint == old.fingerprint
        # the explicit re-pin (Neu anheften) is for exactly this patient
        with qtbot.waitSignal(window.controller.certificateInspected, timeout=30000):
            page.import_certificate(cert, repin_for=page.model.get("1001"))
        dialog = page.dialog
        assert not dialog.patient.isEnabled() and dialog.patient_number() == "1001"
        assert dialog.ok.text() == "Schlüssel neu anheften"
        dialog.confirm.setChecked(True)
        with qtbot.waitSignal(window.controller.certificatePinned, timeout=30000):
            qtbot.mouseClick(dialog.ok, Qt.MouseButton.LeftButton)
        assert client.store.get_pin_for_patient("1001").fingerprint == new_device.fingerprint
        assert client.store.get_pin(old.fingerprint) is None
    finally:
        new_device.close()
        shutil.rmtree(device_dir, ignore_errors=True)
