"""Releasing a shared document from quarantine: a reason and the admin's confirmation,
and for a share without a verified patient the PMS patient number and birth date (two
identifiers: the share is then handed over under that patient)."""

from __future__ import annotations

from PySide6.QtWidgets import QFormLayout, QLineEdit, QWidget

from practice_client.gui.dialogs.reason import ReasonDialog


class ReleaseShareDialog(ReasonDialog):
    def __init__(self, explanation: str, needs_patient: bool, parent: QWidget | None = None) -> None:
        super().__init__(self.tr("Release from quarantine"), explanation, self.tr("&Release"),
                         self.tr("I have checked the finding and take responsibility for releasing the document."),
                         parent)
        self.patient_number: QLineEdit | None = None
        self.birth_date: QLineEdit | None = None
        if needs_patient:
            form = QFormLayout()
            self.patient_number = QLineEdit()
            self.patient_number.setAccessibleName(self.tr("Patient number in the PMS"))
            self.birth_date = QLineEdit()
            self.birth_date.setAccessibleName(self.tr("Birth date as in the PMS"))
            self.birth_date.setPlaceholderText(self.tr("DD.MM.YYYY"))
            form.addRow(self.tr("Patient &number:"), self.patient_number)
            form.addRow(self.tr("&Birth date:"), self.birth_date)
            layout = self.layout()
            layout.insertLayout(layout.count() - 2, form)  # type: ignore[attr-defined] # a QVBoxLayout
            for line in (self.patient_number, self.birth_date):
                line.textChanged.connect(self._update)
        self._update()

    def patient(self) -> tuple[str | None, str | None]:
        """(patient number, birth date) typed for a share without a verified patient."""
        number, birth = getattr(self, "patient_number", None), getattr(self, "birth_date", None)
        if number is None or birth is None:  # (also while the base class builds the dialog)
            return None, None
        return number.text().strip() or None, birth.text().strip() or None

    def _update(self) -> None:
        super()._update()
        if getattr(self, "patient_number", None) is not None and None in self.patient():
            self.ok.setEnabled(False)
