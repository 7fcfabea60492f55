"""Anfragen: incoming requests, what needs action on top, and the decision on one.

Each row names the patient by the PMS record of the request's patient number; what
the request itself claims is shown only beside it, and only where the two differ."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent, QShowEvent
from PySide6.QtWidgets import QHBoxLayout, QLabel, QSplitter, QVBoxLayout, QWidget

from practice_client.core.models import RequestStatus
from practice_client.gui.controller import Controller
from practice_client.gui.formatting import date_text, fill, period_text, short_datetime_text, short_period_text
from practice_client.gui.labels import request_status_label, verdict_label
from practice_client.gui.list_model import Column
from practice_client.gui.pages.request_detail import RequestDetail, local_files
from practice_client.gui.record_view import RecordView
from practice_client.gui.search_box import SearchBox
from practice_client.gui.viewmodels import ListKind, Overview, Query, RequestView
from practice_client.intake.mail_file import is_mail_file

WARNING = "⚠"


def mail_files(urls: list[QUrl]) -> list[Path]:
    """The dropped local files that are request e-mails (.eml, .msg)."""
    return [path for path in local_files(urls) if is_mail_file(path)]


def patient_text(view: RequestView, unknown: str) -> str:
    """The PMS name (marked when the request claims another), or ``unknown``."""
    if view.patient is None:
        return unknown
    return f"{view.patient_name} {WARNING}" if view.name_differs else view.patient_name


class RequestsPage(QWidget):
    """The list of requests (left) and the selected one's checklist and actions (right)."""

    def __init__(self, controller: Controller, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.controller = controller
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        top = QHBoxLayout()
        self.summary = QLabel()
        self.summary.setObjectName("pageSummary")
        self.search = SearchBox(self.tr("Find: patient no. or request id"), self.tr("Find requests"))
        self.search.setMinimumWidth(280)
        top.addWidget(self.summary, 1)
        top.addWidget(self.search)
        layout.addLayout(top)
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.setChildrenCollapsible(False)
        self.model = controller.list_model(Query(ListKind.REQUESTS), self._columns(), bold=lambda v: v.needs_action)
        self.list = RecordView(self.model, self.tr("Requests"), widths={4: 100})  # document lists elide
        self.detail = RequestDetail(controller)
        splitter.addWidget(self.list)
        splitter.addWidget(self.detail)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 2)
        splitter.setSizes([800, 430])
        layout.addWidget(splitter, 1)
        self.search.searched.connect(lambda text: self.model.set_query(Query(ListKind.REQUESTS, search=text)))
        self.list.currentKeyChanged.connect(self._selected)
        self.model.rowChanged.connect(self._row_changed)
        self.model.reloaded.connect(self._first_if_none)
        controller.overviewLoaded.connect(self.show_overview)
        controller.mailsImported.connect(self._imported)
        # request e-mails dragged from the mail program (Thunderbird .eml, Outlook .msg) are
        # recorded and verified like mail from the mailbox
        self.setAcceptDrops(True)
        self.list.setToolTip(self.tr("Drop request e-mails here (.eml, Outlook .msg) to add them"))

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802 - Qt's name
        if mail_files(event.mimeData().urls()):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802 - Qt's name
        paths = mail_files(event.mimeData().urls())
        if not paths:
            event.ignore()
            return
        event.acceptProposedAction()
        self.summary.setText(self.tr("Checking the dropped e-mails…"))
        self.controller.import_mails(paths)

    def _imported(self, count: int) -> None:
        self.summary.setText(fill(self.tr("%1 new request(s) from the dropped e-mails."), count) if count
                             else self.tr("The dropped e-mails hold no new request (already received)."))

    def _columns(self) -> list[Column]:
        unknown = self.tr("(not in the PMS)")

        def verdict(view: RequestView) -> str:
            return verdict_label(view.record.verdict)[1]

        def claimed(view: RequestView) -> str:
            if view.patient is None:
                return fill(self.tr("The request states: %1, born %2"), view.claimed_name,
                            date_text(view.claimed_birth_date))
            if view.name_differs or view.birth_differs:
                return fill(self.tr("PMS: %1, born %2 – the request states: %3, born %4"), view.patient_name,
                            date_text(view.birth_date), view.claimed_name, date_text(view.claimed_birth_date))
            return view.patient_name

        # the verdict is an icon whose *shape* says it (tick, triangle, cross), never its colour alone;
        # its word is the tooltip, the accessible text and in the detail pane's banner
        return [
            Column(self.tr("Check"), lambda v: "", tooltip=verdict, accessible=verdict,
                   icon=lambda v: verdict_label(v.record.verdict)[0]),
            Column(self.tr("Patient"), lambda v: patient_text(v, unknown), tooltip=claimed),
            Column(self.tr("Born"), lambda v: (date_text(v.birth_date) + (f" {WARNING}" if v.birth_differs else ""))
                   if v.patient else "–", tooltip=claimed),
            Column(self.tr("Patient no."), lambda v: v.patient_number or "–"),
            Column(self.tr("Documents"), lambda v: ", ".join(v.documents), tooltip=lambda v: ", ".join(v.documents)),
            Column(self.tr("Period"), lambda v: short_period_text(*v.period), tooltip=lambda v: period_text(*v.period)),
            Column(self.tr("Received"), lambda v: short_datetime_text(v.record.received_at)),
            Column(self.tr("Status"), lambda v: request_status_label(v.record.status)),
        ]

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 - Qt's name
        """The list is read when the page is first shown (the start shows one page only)."""
        super().showEvent(event)
        if self.model.cursor < 0 and not self.model.loading:
            self.model.reload()

    def show_overview(self, overview: Overview) -> None:
        waiting = overview.waiting_requests
        self.summary.setText(
            fill(self.tr("%1 request(s) waiting for a decision"), waiting) if waiting
            else self.tr("No request is waiting for a decision.")
        )

    def current_request_id(self) -> str:
        view = self.list.current_row()
        return view.request_id if isinstance(view, RequestView) else ""

    def select(self, request_id: str) -> None:
        """Select the request with this id (its actionable record before a rejected copy)."""
        views = [v for v in self.model.rows() if isinstance(v, RequestView) and v.request_id == request_id]
        views.sort(key=lambda v: v.record.status is RequestStatus.REJECTED)
        if not views or not self.list.select_key(views[0].key):
            self.detail.show_request(None)

    def _first_if_none(self) -> None:
        if not self.list.current_key() and self.model.rowCount():
            self.list.select_key(self.model.rows()[0].key)

    def _selected(self, key: str) -> None:
        view = self.model.get(key) if key else None
        self.detail.show_request(view if isinstance(view, RequestView) else None)

    def _row_changed(self, key: str) -> None:
        if key == self.list.current_key():
            self._selected(key)
