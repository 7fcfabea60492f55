"""Patienten: PMS patients and their pinned trust certificates; import, compare, re-pin, remove."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMessageBox,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from practice_client.gui.controller import CertificatePreview, Controller
from practice_client.gui.dialogs.fingerprint import FingerprintDialog
from practice_client.gui.formatting import date_text, datetime_text, fill, fingerprint_groups
from practice_client.gui.pages.request_detail import local_files
from practice_client.gui.resources import icon
from practice_client.gui.viewmodels import PatientRow, Snapshot

NUMBER_ROLE = Qt.ItemDataRole.UserRole


class PatientsPage(QWidget):
    def __init__(self, controller: Controller, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.controller = controller
        self.rows: dict[str, PatientRow] = {}
        self.dialog: FingerprintDialog | QMessageBox | None = None
        self._repin_for = ""
        self.setAcceptDrops(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.summary = QLabel(wordWrap=True)
        self.summary.setObjectName("pageSummary")
        layout.addWidget(self.summary)
        self.list = QTreeWidget()
        self.list.setAccessibleName(self.tr("Patients"))
        self.list.setRootIsDecorated(False)
        self.list.setAlternatingRowColors(True)
        self.list.setHeaderLabels(
            [self.tr("Trust certificate"), self.tr("Name"), self.tr("Born"), self.tr("Patient no."),
             self.tr("Phone"), self.tr("Fingerprint"), self.tr("Pinned")]
        )
        self.list.header().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        layout.addWidget(self.list, 1)
        buttons = QHBoxLayout()
        self.import_button = QPushButton(self.tr("&Import trust certificate…"))
        self.pms_button = QPushButton(self.tr("Import &PMS data…"))
        self.repin_button = QPushButton(self.tr("&Re-pin…"))
        self.remove_button = QPushButton(self.tr("Re&move…"))
        for button in (self.import_button, self.pms_button, self.repin_button, self.remove_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        layout.addLayout(buttons)
        hint = QLabel(self.tr("Tip: drop a trust certificate (*.trust.asc) onto this page."), wordWrap=True)
        hint.setObjectName("hint")
        layout.addWidget(hint)
        self.import_button.clicked.connect(self.choose_certificate)
        self.pms_button.clicked.connect(self.choose_pms_file)
        self.repin_button.clicked.connect(self.repin_clicked)
        self.remove_button.clicked.connect(self.remove_clicked)
        self.list.currentItemChanged.connect(lambda *_: self._update_buttons())
        controller.snapshotLoaded.connect(self.show_snapshot)
        controller.certificateInspected.connect(self.compare)
        self._update_buttons()

    # -- showing --------------------------------------------------------------------

    def show_snapshot(self, snapshot: Snapshot) -> None:
        current = self._current_number()
        self.rows = {r.patient_number: r for r in snapshot.patients}
        self.list.clear()
        for row in snapshot.patients:
            pin = row.pin
            groups = fingerprint_groups(pin.fingerprint) if pin else []
            item = QTreeWidgetItem([
                self.tr("Pinned") if pin else self.tr("None"), row.name, date_text(row.birth_date),
                row.patient_number, row.phone or "–", "… " + " ".join(groups[-4:]) if pin else "–",
                datetime_text(pin.pinned_at) if pin else "–",
            ])
            item.setIcon(0, icon("status-ok") if pin else icon("status-closed"))
            item.setData(0, NUMBER_ROLE, row.patient_number)
            if pin:
                item.setToolTip(5, " ".join(groups))
            self.list.addTopLevelItem(item)
            if row.patient_number == current:
                self.list.setCurrentItem(item)
        pinned = sum(1 for r in snapshot.patients if r.pin)
        self.summary.setText(
            fill(self.tr("%1 patient(s), %2 with a pinned trust certificate."), len(snapshot.patients), pinned)
        )
        self._update_buttons()

    def _current_number(self) -> str:
        item = self.list.currentItem()
        return str(item.data(0, NUMBER_ROLE)) if item is not None else ""

    def _current(self) -> PatientRow | None:
        return self.rows.get(self._current_number())

    def _update_buttons(self) -> None:
        row = self._current()
        self.repin_button.setEnabled(row is not None and row.pin is not None)
        self.remove_button.setEnabled(row is not None and row.pin is not None)

    # -- trust certificates -------------------------------------------------------------

    def choose_certificate(self) -> None:
        name, _ = QFileDialog.getOpenFileName(
            self, self.tr("Import trust certificate"), "", self.tr("Trust certificates (*.asc);;All files (*)")
        )
        if name:
            self.import_certificate(Path(name))

    def import_certificate(self, path: Path, repin_for: str = "") -> None:
        """Verify the file (in a worker); the comparison dialog opens when it answers."""
        self._repin_for = repin_for
        self.controller.inspect_certificate(path)

    def compare(self, preview: CertificatePreview) -> None:
        repin_for = self._repin_for
        self.dialog = FingerprintDialog(preview, list(self.rows.values()), repin_for, self)
        dialog = self.dialog
        dialog.accepted.connect(
            lambda: self.controller.pin_certificate(
                preview, dialog.patient_number(), replace=bool(repin_for or preview.already_pinned_for)
            )
        )
        dialog.open()

    def repin_clicked(self) -> None:
        row = self._current()
        if row is None or row.pin is None:
            return
        name, _ = QFileDialog.getOpenFileName(
            self, fill(self.tr("New trust certificate for %1"), row.name), "",
            self.tr("Trust certificates (*.asc);;All files (*)"),
        )
        if name:
            self.import_certificate(Path(name), repin_for=row.patient_number)

    def remove_clicked(self) -> None:
        row = self._current()
        if row is None or row.pin is None:
            return
        pin = row.pin
        box = QMessageBox(
            QMessageBox.Icon.Warning, self.tr("Remove trust certificate"),
            fill(self.tr("Remove the pinned key of %1 (born %2)? Documents can no longer be sent to this "
                    "patient until a new trust certificate is pinned."), row.name, date_text(row.birth_date)),
            QMessageBox.StandardButton.Cancel, self,
        )
        remove = box.addButton(self.tr("Remove"), QMessageBox.ButtonRole.DestructiveRole)
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        box.buttonClicked.connect(
            lambda button: self.controller.remove_pin(pin.fingerprint) if button is remove else None
        )
        self.dialog = box
        box.open()

    # -- PMS data -----------------------------------------------------------------------

    def choose_pms_file(self) -> None:
        name, _ = QFileDialog.getOpenFileName(
            self, self.tr("Import patient data"), "", self.tr("GDT or CSV (*.gdt *.GDT *.csv);;All files (*)")
        )
        if name:
            self.controller.import_patients(Path(name))

    # -- drag and drop --------------------------------------------------------------------

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802 - Qt's name
        if event.mimeData().hasUrls():
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802 - Qt's name
        paths = [p for p in local_files(event.mimeData().urls()) if p.suffix.lower() == ".asc"]
        if len(paths) == 1:
            event.acceptProposedAction()
            self.import_certificate(paths[0])
        else:
            event.ignore()
