"""Comparing a trust certificate's fingerprint with the patient, then linking it.

Staff read the fingerprint aloud in groups of four (large type) while the patient
compares it with their app, pick the PMS patient it belongs to, and confirm the
comparison. Only then can the key be pinned.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QFont, QFontDatabase
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QGridLayout,
    QLabel,
    QVBoxLayout,
    QWidget,
)

from practice_client.gui.controller import CertificatePreview
from practice_client.gui.formatting import date_text, fill, fingerprint_groups
from practice_client.gui.viewmodels import PatientRow


class FingerprintDialog(QDialog):
    def __init__(
        self,
        preview: CertificatePreview,
        patients: list[PatientRow],
        repin_for: str = "",
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.preview = preview
        self.setWindowTitle(self.tr("Compare fingerprint"))
        layout = QVBoxLayout(self)
        intro = QLabel(
            self.tr("Read the fingerprint aloud, group by group. The patient compares it with the "
                    "fingerprint shown in their app. Pin the key only if every group matches."),
            wordWrap=True,
        )
        layout.addWidget(intro)
        grid = QGridLayout()
        font = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
        font.setPointSize(max(font.pointSize(), 10) * 2)
        font.setWeight(QFont.Weight.DemiBold)
        groups = fingerprint_groups(preview.fingerprint)
        for index, group in enumerate(groups):
            label = QLabel(group)
            label.setFont(font)
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            label.setAccessibleName(fill(self.tr("Group %1: %2"), index + 1, " ".join(group)))
            grid.addWidget(label, index // 5, index % 5)
        grid.setHorizontalSpacing(18)
        layout.addLayout(grid)
        facts = QFormLayout()
        for caption, value in (
            (self.tr("Name:"), preview.name),
            (self.tr("Born:"), date_text(preview.birth_date)),
            (self.tr("Phone (verified by the platform):"), preview.phone),
        ):
            label = QLabel(value)
            label.setTextFormat(Qt.TextFormat.PlainText)
            facts.addRow(caption, label)
        self.patient = QComboBox()
        self.patient.setAccessibleName(self.tr("Patient in the practice software"))
        self.patient.addItem(self.tr("– choose the patient –"), "")
        for row in patients:
            if repin_for and row.patient_number != repin_for:
                continue
            self.patient.addItem(
                fill(self.tr("%1, born %2, no. %3"), row.name, date_text(row.birth_date), row.patient_number),
                row.patient_number,
            )
        wanted = repin_for or preview.suggested_patient_number
        self.patient.setCurrentIndex(max(0, self.patient.findData(wanted)))
        self.patient.setEnabled(not repin_for)
        facts.addRow(self.tr("&Patient:"), self.patient)
        layout.addLayout(facts)
        if preview.already_pinned_for and not repin_for:
            warning = QLabel(fill(self.tr("⚠ This key is already pinned for patient no. %1."),
                preview.already_pinned_for))
            warning.setWordWrap(True)
            layout.addWidget(warning)
        self.confirm = QCheckBox(self.tr("I have compared all groups with the patient and they &match"))
        layout.addWidget(self.confirm)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.ok = self.buttons.addButton(
            self.tr("Re-pin key") if repin_for else self.tr("Pin key"), QDialogButtonBox.ButtonRole.AcceptRole
        )
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)
        self.confirm.toggled.connect(self._update)
        self.patient.currentIndexChanged.connect(self._update)
        self._update()

    def patient_number(self) -> str:
        return str(self.patient.currentData() or "")

    def _update(self) -> None:
        self.ok.setEnabled(self.confirm.isChecked() and bool(self.patient_number()))
