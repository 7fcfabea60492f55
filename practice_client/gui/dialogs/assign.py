"""Assigning an unassigned file to a request.

Only patients with an open accepted request are offered, each with name, birth
date and patient number, so two patients with similar names are not mixed up.
Nothing is preselected: staff choose explicitly.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QLabel,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from practice_client.gui.formatting import date_text, fill, period_text
from practice_client.gui.idlist import ID_ROLE, current_id, select_id
from practice_client.gui.viewmodels import RequestView


class AssignDialog(QDialog):
    def __init__(self, file_name: str, requests: list[RequestView], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(self.tr("Assign file"))
        self.setMinimumSize(620, 320)
        layout = QVBoxLayout(self)
        intro = QLabel(fill(self.tr("Which patient is the file “%1” for?"), file_name), wordWrap=True)
        intro.setTextFormat(Qt.TextFormat.PlainText)
        layout.addWidget(intro)
        self.list = QTreeWidget()
        self.list.setAccessibleName(self.tr("Patients with an accepted request"))
        self.list.setRootIsDecorated(False)
        self.list.setHeaderLabels(
            [self.tr("Patient"), self.tr("Born"), self.tr("Patient no."), self.tr("Documents"), self.tr("Period")]
        )
        self.list.header().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        for view in requests:
            item = QTreeWidgetItem([
                view.patient_name, date_text(view.birth_date), view.record.patient_number or "–",
                ", ".join(view.documents), period_text(*view.period),
            ])
            item.setData(0, ID_ROLE, view.request_id)
            self.list.addTopLevelItem(item)
        layout.addWidget(self.list, 1)
        if not requests:
            layout.addWidget(QLabel(self.tr("No patient has an accepted request. Accept the request first."),
                                    wordWrap=True))
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.ok = self.buttons.addButton(self.tr("Assign"), QDialogButtonBox.ButtonRole.AcceptRole)
        self.ok.setEnabled(False)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)
        self.list.currentItemChanged.connect(lambda item, _prev: self.ok.setEnabled(item is not None))
        self.list.itemDoubleClicked.connect(lambda *_: self.accept())

    def chosen_request_id(self) -> str:
        return current_id(self.list)

    def choose(self, request_id: str) -> None:
        select_id(self.list, request_id)
