"""Versand: every document on its way, with progress; failed ones retry, unassigned ones get assigned.

The patient a document goes to is named by the PMS record of its request's patient
number. Live progress from the agent is kept beside the list and drawn by a delegate."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QLocale, QModelIndex, QPersistentModelIndex
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from practice_client.core.config import Config
from practice_client.core.models import DocumentState
from practice_client.core.text import Text
from practice_client.gui.controller import Controller
from practice_client.gui.dialogs.assign import AssignDialog
from practice_client.gui.dialogs.held import HeldDialog
from practice_client.gui.formatting import date_text, datetime_text, fill, size_text
from practice_client.gui.labels import document_state_label, phase_label
from practice_client.gui.list_model import Column, ListModel
from practice_client.gui.progress_delegate import PROGRESS_ROLE, ProgressDelegate
from practice_client.gui.record_view import RecordView
from practice_client.gui.search_box import SearchBox
from practice_client.gui.viewmodels import DocumentView, ListKind, Overview, Query

PROGRESS_COLUMN = 6
ACTIVE = (DocumentState.MATCHED, DocumentState.ENCRYPTED, DocumentState.UPLOADING)


class DocumentsModel(ListModel):
    """The outbox list, plus the live progress the agent reports (by document id)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.progress: dict[str, tuple[int, str]] = {}

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = 0) -> Any:
        if role == PROGRESS_ROLE and index.column() == PROGRESS_COLUMN:
            view = self.row_at(index.row())
            return self._progress_of(view) if isinstance(view, DocumentView) else None
        return super().data(index, role)

    def _progress_of(self, view: DocumentView) -> tuple[int, str] | None:
        if view.state not in ACTIVE:
            return None
        live = self.progress.get(view.document_id)
        if live is not None:
            return live
        if view.state is DocumentState.UPLOADING:
            return -1, document_state_label(view.state)[1]  # busy until the agent reports bytes
        return (100 if view.state is DocumentState.ENCRYPTED else 0), document_state_label(view.state)[1]

    def set_progress(self, document_id: str, percent: int, text: str) -> None:
        """One cell repainted; a document not loaded costs a dictionary entry."""
        self.progress[document_id] = (percent, text)
        number = self.row_of(document_id)
        if number is not None:
            cell = self.index(number, PROGRESS_COLUMN)
            self.dataChanged.emit(cell, cell, [PROGRESS_ROLE])

    def forget_progress(self, keep: set[str]) -> None:
        self.progress = {k: v for k, v in self.progress.items() if k in keep}


class DeliveriesPage(QWidget):
    """The outbox as staff see it."""

    def __init__(self, controller: Controller, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.controller = controller
        self.dialog: AssignDialog | HeldDialog | None = None
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        top = QHBoxLayout()
        self.summary = QLabel()
        self.summary.setObjectName("pageSummary")
        self.search = SearchBox(self.tr("Find: patient no. or document id"), self.tr("Find documents"))
        self.search.setMinimumWidth(280)
        top.addWidget(self.summary, 1)
        top.addWidget(self.search)
        layout.addLayout(top)
        # the admin let the patient number alone identify a file's patient: staff should know
        self.policy_note = QLabel(self.tr("Note: by the administrator's policy, files are matched by the "
                                          "patient number alone (no second identifier)."), wordWrap=True)
        self.policy_note.setObjectName("policyNote")
        self.policy_note.setVisible(controller.config.number_only_matching)
        # at a workstation the rule is the practice service's, known once its settings arrived
        controller.settingsLoaded.connect(self._settings_loaded)
        layout.addWidget(self.policy_note)
        self.model = controller.add_model(DocumentsModel, Query(ListKind.DOCUMENTS), self._columns())
        self.list = RecordView(self.model, self.tr("Documents"), widths={PROGRESS_COLUMN: 170})
        self.list.setItemDelegateForColumn(PROGRESS_COLUMN, ProgressDelegate(self.list))
        layout.addWidget(self.list, 1)
        buttons = QHBoxLayout()
        self.retry_button = QPushButton(self.tr("&Retry"))
        self.retry_button.setAccessibleName(self.tr("Retry the selected delivery"))
        self.assign_button = QPushButton(self.tr("A&ssign to a request…"))
        self.assign_button.setAccessibleName(self.tr("Assign the selected file to a request"))
        self.held_button = QPushButton(self.tr("&Key changed: decide…"))
        self.held_button.setAccessibleName(self.tr("Decide about the selected held file (the patient's key changed)"))
        buttons.addWidget(self.retry_button)
        buttons.addWidget(self.assign_button)
        buttons.addWidget(self.held_button)
        buttons.addStretch(1)
        layout.addLayout(buttons)
        self.search.searched.connect(lambda text: self.model.set_query(Query(ListKind.DOCUMENTS, search=text)))
        self.retry_button.clicked.connect(self.retry_clicked)
        self.assign_button.clicked.connect(self.assign_clicked)
        self.held_button.clicked.connect(self.held_clicked)
        self.list.currentKeyChanged.connect(lambda _key: self._update_buttons())
        self.model.rowChanged.connect(lambda _key: self._update_buttons())
        controller.overviewLoaded.connect(self.show_overview)
        controller.documentProgress.connect(self.show_progress)
        self._update_buttons()

    def _columns(self) -> list[Column]:
        def details(view: DocumentView) -> str:
            doc = view.document
            if doc.state in (DocumentState.FAILED, DocumentState.HELD):  # held: both fingerprints, for staff
                # the stored reason in the GUI's one language (the locale i18n set for it)
                language = "de" if QLocale().language() == QLocale.Language.German else "en"
                return Text.decode(doc.error).pick(language) if doc.error else self.tr("unknown error")
            if doc.state is DocumentState.UNASSIGNED:
                return self.tr("No matching request found: assign it to a patient.")
            if doc.state is DocumentState.DELIVERED and doc.delivered_at:
                return fill(self.tr("Delivered on %1"), datetime_text(doc.delivered_at))
            return ""

        def progress_text(view: DocumentView) -> str:
            live = self.model.progress.get(view.document_id) if view.state in ACTIVE else None
            return fill(self.tr("Progress of %1: %2"), view.document.original_name,
                        live[1] if live else document_state_label(view.state)[1])

        return [
            Column(self.tr("Status"), lambda v: document_state_label(v.state)[1],
                   icon=lambda v: document_state_label(v.state)[0]),
            Column(self.tr("File"), lambda v: v.document.original_name, tooltip=lambda v: v.document.original_name),
            Column(self.tr("Patient"), lambda v: v.patient_name or "–"),
            Column(self.tr("Born"), lambda v: date_text(v.birth_date) if v.birth_date else "–"),
            Column(self.tr("Patient no."), lambda v: v.patient_number or "–"),
            Column(self.tr("Size"), lambda v: size_text(v.document.size)),
            Column(self.tr("Progress"), lambda v: "", accessible=progress_text),
            Column(self.tr("Details"), details, tooltip=details),
        ]

    def _settings_loaded(self, cfg: Config) -> None:
        self.policy_note.setVisible(cfg.number_only_matching)

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 - Qt's name
        super().showEvent(event)
        if self.model.cursor < 0 and not self.model.loading:
            self.model.reload()

    def show_overview(self, overview: Overview) -> None:
        stuck, active = overview.stuck_documents, overview.count(*ACTIVE)
        self.summary.setText(
            fill(self.tr("%1 document(s) need your attention, %2 on the way."), stuck, active)
            if stuck else fill(self.tr("Nothing needs your attention; %1 document(s) on the way."), active)
        )
        # progress of documents that left the active states is history
        self.model.forget_progress({v.key for v in self.model.rows()
                                    if isinstance(v, DocumentView) and v.state in ACTIVE})
        self._update_buttons()

    def show_progress(self, document_id: str, phase: str, done: int, total: int) -> None:
        """Live progress from the agent (GUI thread, via the bridge's queue)."""
        percent = int(done * 100 / total) if total else 0
        self.model.set_progress(document_id, percent, f"{phase_label(phase)} {percent} %")

    def current_document_id(self) -> str:
        return self.list.current_key()

    def select(self, document_id: str) -> bool:
        return self.list.select_key(document_id)

    def _current(self) -> DocumentView | None:
        view = self.list.current_row()
        return view if isinstance(view, DocumentView) else None

    def _update_buttons(self) -> None:
        view = self._current()
        self.retry_button.setEnabled(view is not None and view.state is DocumentState.FAILED)
        self.assign_button.setEnabled(view is not None and view.state is DocumentState.UNASSIGNED)
        self.held_button.setEnabled(view is not None and view.state is DocumentState.HELD)

    def retry_clicked(self) -> None:
        view = self._current()
        if view is not None and view.state is DocumentState.FAILED:
            self.controller.retry(view.document_id)

    def assign_clicked(self) -> None:
        """The dialog loads the candidates itself (named by the PMS record) and asks for the birth date."""
        view = self._current()
        if view is None or view.state is not DocumentState.UNASSIGNED:
            return
        self.dialog = AssignDialog(self.controller, view.document_id, view.document.original_name, self)
        self.dialog.open()

    def held_clicked(self) -> None:
        """Both fingerprints and the PMS patient; staff send to the new key or withhold."""
        view = self._current()
        if view is None or view.state is not DocumentState.HELD:
            return
        dialog = HeldDialog(view, self)
        self.dialog = dialog
        dialog.accepted.connect(lambda: self._decided(view.document_id, dialog))
        dialog.open()

    def _decided(self, document_id: str, dialog: HeldDialog) -> None:
        if dialog.decision == "send":
            self.controller.release_held(document_id, dialog.current_fingerprint)
        elif dialog.decision == "withhold":
            self.controller.withhold(document_id)
