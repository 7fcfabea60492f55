"""A document held because the patient's key changed after the request was accepted.

The document was meant for the key that signed the accepted request; the patient has
been re-pinned since. Staff see the patient by the PMS record and both fingerprints,
and decide: send it to the key pinned now (only after they confirmed, for example on
the phone, that the patient replaced their key), or not send it at all. Nothing is
preselected; the new key's fingerprint passed on is the one shown, and the domain
refuses it unless it is still the pinned one.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QCheckBox, QDialog, QDialogButtonBox, QFormLayout, QLabel, QVBoxLayout, QWidget

from practice_client.gui.formatting import date_text, fill, fingerprint_groups
from practice_client.gui.viewmodels import DocumentView


def _fingerprint(value: str) -> QLabel:
    label = QLabel(" ".join(fingerprint_groups(value)) or "–")
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    label.setTextFormat(Qt.TextFormat.PlainText)
    return label


class HeldDialog(QDialog):
    """``accepted`` with :attr:`decision` "send" or "withhold"."""

    def __init__(self, view: DocumentView, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        held = view.document.extra.get("held")
        held = held if isinstance(held, dict) else {}
        self.accepted_fingerprint = str(held.get("accepted_fingerprint", ""))
        self.current_fingerprint = str(held.get("current_fingerprint", ""))
        self.decision = ""
        self.setWindowTitle(self.tr("Patient's key changed"))
        self.setMinimumWidth(640)
        layout = QVBoxLayout(self)
        intro = QLabel(fill(
            self.tr("The file “%1” was meant for the key that signed the accepted request. The "
                    "patient's key has been replaced since. Send it to the new key only if you have "
                    "confirmed with the patient that they replaced it."), view.document.original_name),
            wordWrap=True)
        intro.setTextFormat(Qt.TextFormat.PlainText)
        layout.addWidget(intro)
        facts = QFormLayout()
        patient = (fill(self.tr("%1, born %2, no. %3"), view.patient_name, date_text(view.birth_date),
                        view.patient_number) if view.patient_name else view.patient_number or "–")
        who = QLabel(patient)
        who.setTextFormat(Qt.TextFormat.PlainText)
        facts.addRow(self.tr("Patient (practice software):"), who)
        facts.addRow(self.tr("Key of the accepted request:"), _fingerprint(self.accepted_fingerprint))
        facts.addRow(self.tr("Key pinned now:"), _fingerprint(self.current_fingerprint))
        layout.addLayout(facts)
        self.confirmed = QCheckBox(self.tr("I have confirmed with the patient that the new key is theirs"))
        layout.addWidget(self.confirmed)
        buttons = QDialogButtonBox()
        self.send = buttons.addButton(self.tr("Send to the new key"), QDialogButtonBox.ButtonRole.AcceptRole)
        self.withhold = buttons.addButton(self.tr("Do not send"), QDialogButtonBox.ButtonRole.DestructiveRole)
        buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        self.send.setEnabled(False)
        self.confirmed.toggled.connect(lambda on: self.send.setEnabled(on and bool(self.current_fingerprint)))
        self.send.clicked.connect(lambda: self._decide("send"))
        self.withhold.clicked.connect(lambda: self._decide("withhold"))
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)

    def _decide(self, decision: str) -> None:
        self.decision = decision
        self.accept()
