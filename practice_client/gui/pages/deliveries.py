"""Versand: every document on its way, with progress; failed ones retry, unassigned ones get assigned."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QProgressBar,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from practice_client.core.models import DocumentState
from practice_client.gui.controller import Controller
from practice_client.gui.dialogs.assign import AssignDialog
from practice_client.gui.formatting import date_text, datetime_text, fill, size_text
from practice_client.gui.idlist import ID_ROLE, current_id, select_id
from practice_client.gui.labels import document_state_label, phase_label
from practice_client.gui.viewmodels import DocumentView, Snapshot

PROGRESS_COLUMN = 5
ACTIVE = (DocumentState.MATCHED, DocumentState.ENCRYPTED, DocumentState.UPLOADING)


class DeliveriesPage(QWidget):
    """The outbox as staff see it."""

    def __init__(self, controller: Controller, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.controller = controller
        self.snapshot = Snapshot()
        self._views: dict[str, DocumentView] = {}
        self._bars: dict[str, QProgressBar] = {}
        self.dialog: AssignDialog | None = None
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.summary = QLabel()
        self.summary.setObjectName("pageSummary")
        layout.addWidget(self.summary)
        self.list = QTreeWidget()
        self.list.setAccessibleName(self.tr("Documents"))
        self.list.setRootIsDecorated(False)
        self.list.setAlternatingRowColors(True)
        self.list.setHeaderLabels(
            [self.tr("Status"), self.tr("File"), self.tr("Patient"), self.tr("Born"), self.tr("Size"),
             self.tr("Progress"), self.tr("Details")]
        )
        header = self.list.header()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(PROGRESS_COLUMN, QHeaderView.ResizeMode.Fixed)
        header.resizeSection(PROGRESS_COLUMN, 150)
        header.setStretchLastSection(True)
        layout.addWidget(self.list, 1)
        buttons = QHBoxLayout()
        self.retry_button = QPushButton(self.tr("&Retry"))
        self.retry_button.setAccessibleName(self.tr("Retry the selected delivery"))
        self.assign_button = QPushButton(self.tr("A&ssign to a request…"))
        self.assign_button.setAccessibleName(self.tr("Assign the selected file to a request"))
        buttons.addWidget(self.retry_button)
        buttons.addWidget(self.assign_button)
        buttons.addStretch(1)
        layout.addLayout(buttons)
        self.retry_button.clicked.connect(self.retry_clicked)
        self.assign_button.clicked.connect(self.assign_clicked)
        self.list.currentItemChanged.connect(lambda *_: self._update_buttons())
        controller.snapshotLoaded.connect(self.show_snapshot)
        controller.documentProgress.connect(self.show_progress)
        self._update_buttons()

    def show_snapshot(self, snapshot: Snapshot) -> None:
        current = self.current_document_id()
        self.snapshot = snapshot
        self._views = {v.document_id: v for v in snapshot.documents}
        self._bars = {}
        self.list.clear()
        items = [self._item(view) for view in snapshot.documents]
        # all rows in one call: one by one, every insertion re-measured the columns (quadratic)
        self.list.addTopLevelItems(items)
        for view, item in zip(snapshot.documents, items, strict=True):
            if view.state in ACTIVE:
                bar = QProgressBar()
                bar.setAccessibleName(fill(self.tr("Progress of %1"), view.document.original_name))
                if view.state is DocumentState.UPLOADING:
                    bar.setRange(0, 0)  # busy until the agent reports bytes
                else:
                    bar.setRange(0, 100)
                    bar.setValue(100 if view.state is DocumentState.ENCRYPTED else 0)
                    bar.setFormat(document_state_label(view.state)[1])
                self.list.setItemWidget(item, PROGRESS_COLUMN, bar)
                self._bars[view.document_id] = bar
        stuck = sum(1 for v in snapshot.documents if v.state in (DocumentState.FAILED, DocumentState.UNASSIGNED))
        active = sum(1 for v in snapshot.documents if v.state in ACTIVE)
        self.summary.setText(
            fill(self.tr("%1 document(s) need your attention, %2 on the way."), stuck, active)
            if stuck else fill(self.tr("Nothing needs your attention; %1 document(s) on the way."), active)
        )
        self.select(current)
        self._update_buttons()

    def _item(self, view: DocumentView) -> QTreeWidgetItem:
        doc = view.document
        icon, state = document_state_label(doc.state)
        if doc.state in (DocumentState.FAILED, DocumentState.HELD):  # held: both fingerprints, for staff
            details = doc.error or self.tr("unknown error")
        elif doc.state is DocumentState.UNASSIGNED:
            details = self.tr("No matching request found: assign it to a patient.")
        elif doc.state is DocumentState.DELIVERED and doc.delivered_at:
            details = fill(self.tr("Delivered on %1"), datetime_text(doc.delivered_at))
        else:
            details = ""
        item = QTreeWidgetItem([
            state, doc.original_name, view.patient_name or "–", date_text(view.birth_date) if view.birth_date else "–",
            size_text(doc.size), "", details,
        ])
        item.setIcon(0, icon)
        item.setData(0, ID_ROLE, doc.document_id)
        item.setToolTip(6, details)
        return item

    def show_progress(self, document_id: str, phase: str, done: int, total: int) -> None:
        """Live progress from the agent (GUI thread, via the bridge's queue)."""
        bar = self._bars.get(document_id)
        if bar is None:
            return
        bar.setRange(0, 100)
        bar.setValue(int(done * 100 / total) if total else 0)
        bar.setFormat(f"{phase_label(phase)} %p%")

    def current_document_id(self) -> str:
        return current_id(self.list)

    def select(self, document_id: str) -> None:
        select_id(self.list, document_id)

    def _current(self) -> DocumentView | None:
        return self._views.get(self.current_document_id())

    def _update_buttons(self) -> None:
        view = self._current()
        self.retry_button.setEnabled(view is not None and view.state is DocumentState.FAILED)
        self.assign_button.setEnabled(view is not None and view.state is DocumentState.UNASSIGNED)

    def retry_clicked(self) -> None:
        view = self._current()
        if view is not None and view.state is DocumentState.FAILED:
            self.controller.retry(view.document_id)

    def assign_clicked(self) -> None:
        view = self._current()
        if view is None or view.state is not DocumentState.UNASSIGNED:
            return
        self.dialog = AssignDialog(self.controller, view.document_id, view.document.original_name, self)
        self.dialog.open()
