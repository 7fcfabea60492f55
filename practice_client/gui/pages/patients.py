"""Patienten: PMS patients and their pinned trust certificates; import, compare, re-pin, remove.

A list of thousands, read a page at a time in patient-number order; found by the start
of a patient number or a key's fingerprint (names are encrypted at rest, so the
database cannot search them)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtGui import QDragEnterEvent, QDropEvent, QShowEvent
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from practice_client.gui.controller import CertificatePreview, Controller
from practice_client.gui.dialogs.fingerprint import FingerprintDialog
from practice_client.gui.formatting import date_text, datetime_text, fill, fingerprint_groups
from practice_client.gui.labels import ident_label
from practice_client.gui.list_model import Column
from practice_client.gui.pages.request_detail import local_files
from practice_client.gui.record_view import RecordView
from practice_client.gui.resources import icon
from practice_client.gui.search_box import SearchBox
from practice_client.gui.viewmodels import ListKind, Overview, PatientRow, Query


class PatientsPage(QWidget):
    def __init__(self, controller: Controller, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.controller = controller
        self.dialog: FingerprintDialog | QMessageBox | None = None
        self._repin_for: PatientRow | None = None
        self.setAcceptDrops(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        top = QHBoxLayout()
        self.summary = QLabel(wordWrap=True)
        self.summary.setObjectName("pageSummary")
        self.search = SearchBox(self.tr("Find: patient no. or fingerprint"), self.tr("Find patients"))
        self.search.setMinimumWidth(280)
        top.addWidget(self.summary, 1)
        top.addWidget(self.search)
        layout.addLayout(top)
        self.model = controller.list_model(Query(ListKind.PATIENTS), self._columns())
        self.list = RecordView(self.model, self.tr("Patients"))
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
        self.search.searched.connect(lambda text: self.model.set_query(Query(ListKind.PATIENTS, search=text)))
        self.import_button.clicked.connect(self.choose_certificate)
        self.pms_button.clicked.connect(self.choose_pms_file)
        self.repin_button.clicked.connect(self.repin_clicked)
        self.remove_button.clicked.connect(self.remove_clicked)
        self.list.currentKeyChanged.connect(lambda _key: self._update_buttons())
        self.model.rowChanged.connect(lambda _key: self._update_buttons())
        controller.overviewLoaded.connect(self.show_overview)
        controller.certificateInspected.connect(self.compare)
        self._update_buttons()

    # -- showing --------------------------------------------------------------------

    def _columns(self) -> list[Column]:
        def name(row: PatientRow) -> str:
            return row.name if row.in_pms else fill(self.tr("%1 (not in the PMS data)"), row.name)

        def fingerprint(row: PatientRow) -> str:
            return "… " + " ".join(fingerprint_groups(row.pin.fingerprint)[-4:]) if row.pin else "–"

        return [
            Column(self.tr("Trust certificate"), lambda r: self.tr("Pinned") if r.pin else self.tr("None"),
                   icon=lambda r: icon("status-ok") if r.pin else icon("status-closed")),
            Column(self.tr("Name"), name, tooltip=name),
            Column(self.tr("Born"), lambda r: date_text(r.birth_date)),
            Column(self.tr("Patient no."), lambda r: r.patient_number),
            Column(self.tr("Phone"), lambda r: r.phone or "–"),
            Column(self.tr("Identity checked by"), lambda r: ident_label(r.pin.ident) if r.pin else "–"),
            Column(self.tr("Fingerprint"), fingerprint,
                   tooltip=lambda r: " ".join(fingerprint_groups(r.pin.fingerprint)) if r.pin else ""),
            Column(self.tr("Pinned"), lambda r: datetime_text(r.pin.pinned_at) if r.pin else "–"),
        ]

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 - Qt's name
        super().showEvent(event)
        if self.model.cursor < 0 and not self.model.loading:
            self.model.reload()

    def show_overview(self, overview: Overview) -> None:
        self.summary.setText(
            fill(self.tr("%1 patient(s), %2 with a pinned trust certificate."), overview.patients, overview.pinned)
        )

    def select(self, patient_number: str) -> bool:
        return self.list.select_key(patient_number)

    def _current(self) -> PatientRow | None:
        row = self.list.current_row()
        return row if isinstance(row, PatientRow) else None

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

    def import_certificate(self, path: Path, repin_for: PatientRow | None = None) -> None:
        """Verify the file (in a worker); the comparison dialog opens when it answers."""
        self._repin_for = repin_for
        self.controller.inspect_certificate(path)

    def compare(self, preview: CertificatePreview) -> None:
        """The patients offered: the one being re-pinned, or those the PMS holds with the
        certificate's birth date (only such a patient can be pinned)."""
        repin = self._repin_for
        patients = [repin] if repin is not None else list(preview.candidates)
        repin_for = repin.patient_number if repin is not None else ""
        self.dialog = FingerprintDialog(preview, patients, repin_for, self)
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
            self.import_certificate(Path(name), repin_for=row)

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
