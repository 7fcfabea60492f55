"""Assigning an unassigned file to a request.

Only requests that are accepted and not expired are offered, each named by the
**PMS record** (patient number, name, birth date) - never by what the request
claims; where the claim or the pinned certificate differs from the record, the row
says so. Nothing is preselected, and staff type the patient's birth date from the
document: "Assign" stays disabled until it is the selected patient's, so a slip in a
list of similar names does not send a file to the wrong patient. The controller's
domain call checks the birth date again.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QLabel,
    QLineEdit,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from practice_client.core.patients import parse_birth_date
from practice_client.delivery.recipients import AssignCandidate
from practice_client.gui.controller import Controller
from practice_client.gui.formatting import date_text, fill, period_text
from practice_client.gui.idlist import ID_ROLE, current_id, select_id

DIFFERS_COLUMN = 3


class AssignDialog(QDialog):
    """Opens with the candidates loading; on OK the controller assigns the file."""

    def __init__(self, controller: Controller, document_id: str, file_name: str,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.controller = controller
        self.document_id = document_id
        self.candidates: dict[str, AssignCandidate] = {}
        self.setWindowTitle(self.tr("Assign file"))
        self.setMinimumSize(720, 360)
        layout = QVBoxLayout(self)
        intro = QLabel(fill(self.tr("Which patient is the file “%1” for? Patients with an accepted "
                                    "request, as the practice software knows them."), file_name), wordWrap=True)
        intro.setTextFormat(Qt.TextFormat.PlainText)
        layout.addWidget(intro)
        self.list = QTreeWidget()
        self.list.setAccessibleName(self.tr("Patients with an accepted request"))
        self.list.setRootIsDecorated(False)
        self.list.setHeaderLabels([self.tr("Patient"), self.tr("Born"), self.tr("Patient no."), self.tr("Check"),
                                   self.tr("Documents"), self.tr("Period")])
        self.list.header().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        layout.addWidget(self.list, 1)
        self.status = QLabel(self.tr("Loading…"), wordWrap=True)
        layout.addWidget(self.status)
        label = QLabel(self.tr("&Birth date from the document (DD.MM.YYYY):"))
        self.birth_date = QLineEdit()
        self.birth_date.setAccessibleName(self.tr("Birth date to confirm"))
        self.birth_date.setPlaceholderText(self.tr("DD.MM.YYYY"))
        label.setBuddy(self.birth_date)
        layout.addWidget(label)
        layout.addWidget(self.birth_date)
        self.hint = QLabel(wordWrap=True)
        self.hint.setObjectName("fieldHint")
        layout.addWidget(self.hint)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.ok = self.buttons.addButton(self.tr("Assign"), QDialogButtonBox.ButtonRole.AcceptRole)
        self.ok.setEnabled(False)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)
        self.list.currentItemChanged.connect(lambda *_: self._update())
        self.birth_date.textChanged.connect(lambda *_: self._update())
        controller.assignCandidatesLoaded.connect(self.show_candidates)
        controller.load_assign_candidates()

    def show_candidates(self, candidates: list[AssignCandidate]) -> None:
        chosen = self.chosen_request_id()
        self.candidates = {c.request_id: c for c in candidates}
        self.list.clear()
        self.list.addTopLevelItems([self._item(c) for c in candidates])
        self.status.setText("" if candidates else
                            self.tr("No patient has an accepted request. Accept the request first."))
        self.choose(chosen)
        self._update()

    def _item(self, candidate: AssignCandidate) -> QTreeWidgetItem:
        identity = candidate.identity
        pms = identity.pms
        assert pms is not None  # only patients in the PMS are offered
        differs = self.tr("Differs – see tooltip") if identity.differs else self.tr("OK")
        item = QTreeWidgetItem([pms.name, date_text(pms.birth_date), identity.patient_number or "–", differs,
                                ", ".join(candidate.documents), period_text(*candidate.period)])
        item.setData(0, ID_ROLE, candidate.request_id)
        if identity.differs:
            lines = [fill(self.tr("Practice software: %1, born %2"), pms.name, date_text(pms.birth_date))]
            if identity.certificate_person is not None:
                cert = identity.certificate_person
                lines.append(fill(self.tr("Trust certificate: %1, born %2"), cert.name, date_text(cert.birth_date)))
            if identity.claimed is not None:
                claim = identity.claimed
                lines.append(fill(self.tr("The request says: %1, born %2"), claim.name, date_text(claim.birth_date)))
            item.setToolTip(DIFFERS_COLUMN, "\n".join(lines))
        return item

    def chosen_request_id(self) -> str:
        return current_id(self.list)

    def choose(self, request_id: str) -> None:
        select_id(self.list, request_id)

    def confirmed(self) -> bool:
        """A patient is selected and the typed birth date is that patient's in the PMS."""
        candidate = self.candidates.get(self.chosen_request_id())
        typed = parse_birth_date(self.birth_date.text().strip())
        return bool(candidate and candidate.identity.pms and typed == candidate.identity.pms.birth_date)

    def _update(self) -> None:
        text = self.birth_date.text().strip()
        if not text or not self.chosen_request_id():
            self.hint.setText(self.tr("Select the patient, then type the birth date printed on the document."))
        elif parse_birth_date(text) is None:
            self.hint.setText(self.tr("This is not a valid date (DD.MM.YYYY)."))
        elif not self.confirmed():
            self.hint.setText(self.tr("The birth date does not match this patient in the practice software. "
                                      "Check the document and the patient."))
        else:
            self.hint.setText(self.tr("The birth date matches the practice software."))
        self.ok.setEnabled(self.confirmed())

    def accept(self) -> None:
        if not self.confirmed():
            return
        self.controller.assign(self.document_id, self.chosen_request_id(), self.birth_date.text().strip())
        super().accept()
