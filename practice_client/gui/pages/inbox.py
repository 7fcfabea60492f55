"""Eingang: the documents patients shared with the practice, each with its patient by the
PMS record and its state - received, checking, waiting, scanned clean, handed to the PMS,
quarantined with the reason. Staff discard; administrators release from quarantine (at a
workstation: an admin workstation, by the practice service's commands; others see why not).

The list is read a page at a time through the data source and kept current by change
stamps like every other list. A received file is never opened here (nor anywhere in the
client): the page shows what the checks found, not the document."""

from __future__ import annotations

from pathlib import PurePath

from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from practice_client.gui.controller import Controller
from practice_client.gui.dialogs.reason import ReasonDialog
from practice_client.gui.dialogs.release_share import ReleaseShareDialog
from practice_client.gui.formatting import date_text, fill, language, short_datetime_text, size_text
from practice_client.gui.labels import share_state_label
from practice_client.gui.list_model import Column, ListModel
from practice_client.gui.record_view import RecordView
from practice_client.gui.search_box import SearchBox
from practice_client.gui.viewmodels import ListKind, Overview, Query, ShareView
from practice_client.shares.states import reason_text


class InboxPage(QWidget):
    """The shares as staff see them."""

    def __init__(self, controller: Controller, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.controller = controller
        self.dialog: ReasonDialog | None = None
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        top = QHBoxLayout()
        self.summary = QLabel(wordWrap=True)
        self.summary.setObjectName("pageSummary")
        self.search = SearchBox(self.tr("Find: patient no. or share id"), self.tr("Find shared documents"))
        self.search.setMinimumWidth(280)
        top.addWidget(self.summary, 1)
        top.addWidget(self.search)
        layout.addLayout(top)
        self.model: ListModel = controller.list_model(Query(ListKind.SHARES), self._columns(),
                                                      bold=lambda v: isinstance(v, ShareView) and v.needs_staff)
        self.list = RecordView(self.model, self.tr("Shared documents"), widths={0: 180})
        layout.addWidget(self.list, 1)
        self.note = QLabel(self.tr("Documents are decrypted, checked against the patient's pinned key, scanned for "
                                   "malware and handed to the PMS import folder; this program never opens them."),
                           wordWrap=True)
        layout.addWidget(self.note)
        buttons = QHBoxLayout()
        self.release_button = QPushButton(self.tr("&Release from quarantine…"))
        self.release_button.setAccessibleName(self.tr("Release the selected document from quarantine"))
        self.discard_button = QPushButton(self.tr("&Discard…"))
        self.discard_button.setAccessibleName(self.tr("Discard the selected document"))
        self.release_note = QLabel(self._release_note(), wordWrap=True)
        buttons.addWidget(self.release_button)
        buttons.addWidget(self.discard_button)
        buttons.addWidget(self.release_note, 1)
        buttons.addStretch(1)
        layout.addLayout(buttons)
        self.search.searched.connect(lambda text: self.model.set_query(Query(ListKind.SHARES, search=text)))
        self.release_button.clicked.connect(self.release_clicked)
        self.discard_button.clicked.connect(self.discard_clicked)
        self.list.currentKeyChanged.connect(lambda _key: self._update_buttons())
        self.model.rowChanged.connect(lambda _key: self._update_buttons())
        controller.overviewLoaded.connect(self.show_overview)
        self._update_buttons()

    def _columns(self) -> list[Column]:
        def state(view: ShareView) -> str:
            return share_state_label(view.state)[1]

        return [
            Column(self.tr("Status"), state, icon=lambda v: share_state_label(v.state)[0]),
            Column(self.tr("Patient"), lambda v: v.patient_name or "–"),
            Column(self.tr("Born"), lambda v: date_text(v.birth_date) if v.birth_date else "–"),
            Column(self.tr("Patient no."), lambda v: v.patient_number or "–"),
            Column(self.tr("Type (from the app)"), lambda v: v.document_type or "–"),
            Column(self.tr("File name (from the app)"), lambda v: v.file_name or "–",
                   tooltip=lambda v: v.file_name),
            Column(self.tr("Size"), lambda v: size_text(v.share.size)),
            Column(self.tr("Received"), lambda v: short_datetime_text(v.share.received_at)),
            Column(self.tr("Details"), self.details, tooltip=self.details),
        ]

    def details(self, view: ShareView) -> str:
        """Why a share waits or is quarantined (the reason and what was found), where a
        handed-over one went, or what staff decided - in the GUI's language."""
        share, words = view.share, view.detail(language())
        reason = reason_text(share.reason, language()) if share.reason else ""
        if view.state == "discarded":  # staff's decision, and what it was for
            return f"{words} ({reason})" if reason else words
        if reason:
            return f"{reason}: {words}" if words else reason
        if view.state == "handed_over":
            placed = PurePath(str(share.handover.get("file") or "")).name
            return fill(self.tr("In the PMS import folder as %1"), placed) if placed else ""
        if view.state in ("received", "downloaded", "verified", "clean", "handing_over") and not words:
            return self.tr("Being checked; nothing to do.")
        return words

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 - Qt's name
        super().showEvent(event)
        if self.model.cursor < 0 and not self.model.loading:
            self.model.reload()

    def show_overview(self, overview: Overview) -> None:
        attention = overview.shares_needing_staff
        self.summary.setText(
            fill(self.tr("%1 shared document(s) need your attention."), attention) if attention
            else self.tr("Nothing needs your attention.")
        )
        self._update_buttons()

    def current_share_id(self) -> str:
        return self.list.current_key()

    def select(self, share_id: str) -> bool:
        return self.list.select_key(share_id)

    def _current(self) -> ShareView | None:
        view = self.list.current_row()
        return view if isinstance(view, ShareView) else None

    def _release_note(self) -> str:
        """Why the release button stays disabled for this user (a workstation: its role)."""
        if self.controller.practice_settings_remote:
            return self.tr("Only an admin workstation releases from quarantine.")
        return self.tr("Only an administrator releases from quarantine (set by the administrator's policy).")

    def _update_buttons(self) -> None:
        view = self._current()
        admin = self.controller.may_release_shares
        self.release_button.setEnabled(view is not None and view.can_release and admin)
        self.release_button.setToolTip("" if admin else self.release_note.text())
        self.release_note.setVisible(not admin)
        self.discard_button.setEnabled(view is not None and view.can_discard)

    def release_clicked(self) -> None:
        view = self._current()
        if view is None or not view.can_release or not self.controller.may_release_shares:
            return
        dialog = ReleaseShareDialog(
            fill(self.tr("Finding: %1. The document stays in quarantine unless you release it. A released "
                         "document goes on to the remaining checks or straight to the PMS. Your name and "
                         "reason are recorded."), self.details(view)),
            needs_patient=not view.patient_number, parent=self)
        share_id = view.share_id
        dialog.accepted.connect(lambda: self.controller.release_share(share_id, dialog.reason_text(),
                                                                      *dialog.patient()))
        self.dialog = dialog
        dialog.open()

    def discard_clicked(self) -> None:
        view = self._current()
        if view is None or not view.can_discard:
            return
        dialog = ReasonDialog(self.tr("Discard shared document"),
                              self.tr("The document is deleted from this computer; the patient's app is told "
                                      "that the practice did not accept it."), self.tr("&Discard"), parent=self)
        share_id = view.share_id
        dialog.accepted.connect(lambda: self.controller.discard_share(share_id, dialog.reason_text()))
        self.dialog = dialog
        dialog.open()
