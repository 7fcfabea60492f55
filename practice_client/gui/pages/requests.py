"""Anfragen: incoming requests, what needs action on top, and the decision on one."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QHeaderView,
    QLabel,
    QSplitter,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from practice_client.gui.controller import Controller
from practice_client.gui.formatting import (
    date_text,
    fill,
    period_text,
    short_datetime_text,
    short_period_text,
)
from practice_client.gui.idlist import ID_ROLE, current_id, select_id
from practice_client.gui.labels import request_status_label, verdict_label
from practice_client.gui.pages.request_detail import RequestDetail
from practice_client.gui.viewmodels import RequestView, Snapshot


class RequestsPage(QWidget):
    """The list of requests (left) and the selected one's checklist and actions (right)."""

    def __init__(self, controller: Controller, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.controller = controller
        self._views: dict[str, RequestView] = {}
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.summary = QLabel()
        self.summary.setObjectName("pageSummary")
        layout.addWidget(self.summary)
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.setChildrenCollapsible(False)
        self.list = QTreeWidget()
        self.list.setAccessibleName(self.tr("Requests"))
        self.list.setRootIsDecorated(False)
        self.list.setUniformRowHeights(True)
        self.list.setAlternatingRowColors(True)
        self.list.setHeaderLabels(
            [self.tr("Check"), self.tr("Patient"), self.tr("Born"), self.tr("Documents"),
             self.tr("Period"), self.tr("Received"), self.tr("Status")]
        )
        header = self.list.header()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setMaximumSectionSize(180)  # long names and document lists elide (full text in the tooltip)
        header.setStretchLastSection(True)
        header.setSectionResizeMode(3, QHeaderView.ResizeMode.Interactive)  # document lists: elided
        header.resizeSection(3, 150)
        self.list.currentItemChanged.connect(self._selected)
        self.detail = RequestDetail(controller)
        splitter.addWidget(self.list)
        splitter.addWidget(self.detail)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 2)
        splitter.setSizes([800, 430])
        layout.addWidget(splitter, 1)
        controller.snapshotLoaded.connect(self.show_snapshot)

    def show_snapshot(self, snapshot: Snapshot) -> None:
        current = self.current_request_id()
        self._views = {}
        self.list.clear()
        for view in snapshot.requests:
            self._views.setdefault(view.request_id, view)
        # all rows in one call: one by one, every insertion re-measured the columns (quadratic)
        self.list.addTopLevelItems([self._item(view) for view in snapshot.requests])
        waiting = sum(1 for v in snapshot.requests if v.needs_action)
        self.summary.setText(
            fill(self.tr("%1 request(s) waiting for a decision"), waiting) if waiting
            else self.tr("No request is waiting for a decision.")
        )
        self.select(current or (snapshot.requests[0].request_id if snapshot.requests else ""))

    def _item(self, view: RequestView) -> QTreeWidgetItem:
        icon, verdict = verdict_label(view.record.verdict)
        item = QTreeWidgetItem([
            "", view.patient_name or self.tr("(unknown)"), date_text(view.birth_date),
            ", ".join(view.documents), short_period_text(*view.period), short_datetime_text(view.record.received_at),
            request_status_label(view.record.status),
        ])
        # the verdict is an icon whose *shape* says it (tick, triangle, cross), never its colour alone;
        # its word is the tooltip, the accessible text and in the detail pane's banner
        item.setIcon(0, icon)
        item.setToolTip(0, verdict)
        item.setData(0, Qt.ItemDataRole.AccessibleTextRole, verdict)
        item.setData(0, ID_ROLE, view.request_id)
        item.setToolTip(1, view.patient_name)
        item.setToolTip(3, ", ".join(view.documents))
        item.setToolTip(4, period_text(*view.period))
        if view.needs_action:
            font = item.font(1)
            font.setBold(True)
            for column in range(item.columnCount()):
                item.setFont(column, font)
        return item

    def current_request_id(self) -> str:
        return current_id(self.list)

    def select(self, request_id: str) -> None:
        if not select_id(self.list, request_id):
            self.detail.show_request(None)

    def _selected(self, item: QTreeWidgetItem | None, _previous: QTreeWidgetItem | None) -> None:
        view = self._views.get(str(item.data(0, ID_ROLE))) if item is not None else None
        self.detail.show_request(view)
