"""Protokoll: the audit log, filterable, with the keyed chain's verification status."""

from __future__ import annotations

import html
import json

from PySide6.QtCore import QCoreApplication
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QComboBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from practice_client.core.audit import VerifyResult
from practice_client.core.text import Text
from practice_client.gui.controller import Controller
from practice_client.gui.formatting import datetime_text, fill
from practice_client.gui.i18n import current_language
from practice_client.gui.list_model import Column
from practice_client.gui.record_view import RecordView
from practice_client.gui.resources import icon
from practice_client.gui.search_box import SearchBox
from practice_client.gui.viewmodels import ListKind, Query

ICON_SIZE = 20


def event_title(event: str) -> str:
    """A readable name for the common events; the technical name otherwise."""
    titles = {
        "setup.completed": QCoreApplication.translate("AuditEvents", "Setup completed"),
        "key.created": QCoreApplication.translate("AuditEvents", "Practice key created"),
        "key.exported": QCoreApplication.translate("AuditEvents", "Practice key exported"),
        "key.registered": QCoreApplication.translate("AuditEvents", "Practice key registered"),
        "patients.imported": QCoreApplication.translate("AuditEvents", "Patient data imported"),
        "trust.pinned": QCoreApplication.translate("AuditEvents", "Trust certificate pinned"),
        "trust.repinned": QCoreApplication.translate("AuditEvents", "Trust certificate re-pinned"),
        "trust.removed": QCoreApplication.translate("AuditEvents", "Trust certificate removed"),
        "message.received": QCoreApplication.translate("AuditEvents", "Message received"),
        "request.received": QCoreApplication.translate("AuditEvents", "Request checked"),
        "request.accepted": QCoreApplication.translate("AuditEvents", "Request accepted"),
        "request.declined": QCoreApplication.translate("AuditEvents", "Request declined"),
        "request.decision_sent": QCoreApplication.translate("AuditEvents", "Decision sent to the platform"),
        "request.decision_refused": QCoreApplication.translate("AuditEvents",
                                                               "Decision refused by the platform"),
        "document.detected": QCoreApplication.translate("AuditEvents", "Document detected"),
        "document.matched": QCoreApplication.translate("AuditEvents", "Document assigned"),
        "document.unassigned": QCoreApplication.translate("AuditEvents", "Document unassigned"),
        "document.encrypted": QCoreApplication.translate("AuditEvents", "Document signed and encrypted"),
        "document.uploading": QCoreApplication.translate("AuditEvents", "Upload started"),
        "document.delivered": QCoreApplication.translate("AuditEvents", "Document delivered"),
        "document.failed": QCoreApplication.translate("AuditEvents", "Delivery failed"),
        "audit.keyed": QCoreApplication.translate("AuditEvents", "Audit log keyed"),
        "store.migrated": QCoreApplication.translate("AuditEvents", "Database updated"),
    }
    return titles.get(event, event)


def details_text(details: object) -> str:
    """``request_id: 1a2b… · override: false`` - identifiers only, as the log holds them; a
    text stored as :meth:`Text.encode` (a reason) in the GUI's language only."""
    if not isinstance(details, dict):
        return json.dumps(details, ensure_ascii=False)
    parts = []
    for key, value in sorted(details.items()):
        if isinstance(value, str) and value.startswith("{"):
            value = Text.decode(value).pick(current_language())
        shown = ", ".join(map(str, value)) if isinstance(value, list) else json.dumps(value, ensure_ascii=False)
        parts.append(f"{key}: {shown.strip(chr(34))}")
    return " · ".join(parts)


class AuditPage(QWidget):
    """The log a page at a time, newest first; filters run in the database's index."""

    def __init__(self, controller: Controller, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.controller = controller
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.banner = QFrame()
        self.banner.setObjectName("chainBanner")
        banner_layout = QHBoxLayout(self.banner)
        self.status_icon = QLabel()
        self.status = QLabel(wordWrap=True)
        self.status.setAccessibleName(self.tr("Verification of the audit log"))
        self.verify_button = QPushButton(self.tr("&Verify again"))
        self.verify_button.setToolTip(self.tr("Check every entry of the log, not only the new ones"))
        banner_layout.addWidget(self.status_icon)
        banner_layout.addWidget(self.status, 1)
        banner_layout.addWidget(self.verify_button)
        layout.addWidget(self.banner)
        filters = QHBoxLayout()
        self.search = SearchBox(self.tr("Filter: id, fingerprint, patient no. …"), self.tr("Filter entries"))
        self.kind = QComboBox()
        self.kind.setAccessibleName(self.tr("Event type"))
        self.kind.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.kind.addItem(self.tr("All events"), "")
        filter_label = QLabel(self.tr("&Search:"))
        filter_label.setBuddy(self.search)
        filters.addWidget(filter_label)
        filters.addWidget(self.search, 1)
        filters.addWidget(self.kind)
        layout.addLayout(filters)
        self.model = controller.list_model(Query(ListKind.AUDIT), self._columns())
        self.list = RecordView(self.model, self.tr("Audit log entries"))
        layout.addWidget(self.list, 1)
        self.search.searched.connect(lambda _text: self._apply_filter())
        self.kind.currentIndexChanged.connect(self._apply_filter)
        self.verify_button.clicked.connect(lambda: controller.refresh(full_audit_check=True))
        controller.auditChecked.connect(self.show_result)
        controller.auditEventsLoaded.connect(self.show_events)

    def _columns(self) -> list[Column]:
        return [
            Column(self.tr("No."), lambda e: str(e.seq)),
            Column(self.tr("Time"), lambda e: datetime_text(e.time)),
            Column(self.tr("Event"), lambda e: event_title(e.event), tooltip=lambda e: e.event),
            Column(self.tr("Details"), lambda e: details_text(e.details), tooltip=lambda e: details_text(e.details)),
        ]

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 - Qt's name
        """Read the first page and the event types when the page is shown."""
        super().showEvent(event)
        if self.model.cursor < 0 and not self.model.loading:
            self.model.reload()
        self.controller.load_audit_events()

    def show_result(self, result: VerifyResult) -> None:
        if result.ok and result.full:
            self.status_icon.setPixmap(icon("status-ok").pixmap(ICON_SIZE, ICON_SIZE))
            text = self.tr("<b>Chain intact</b> – all %1 entries verified; none was changed or removed.")
            self.status.setText(fill(text, result.entries))
        elif result.ok:
            self.status_icon.setPixmap(icon("status-ok").pixmap(ICON_SIZE, ICON_SIZE))
            text = self.tr("<b>Chain intact</b> – %1 entries; the newest are verified and linked to those "
                           "checked before. “Verify again” checks every entry.")
            self.status.setText(fill(text, result.entries))
        else:
            self.status_icon.setPixmap(icon("status-fail").pixmap(ICON_SIZE, ICON_SIZE))
            text = self.tr("<b>Chain broken</b> – the log was altered: %1")
            self.status.setText(fill(text, html.escape(result.problem)))
        self.banner.setProperty("ok", result.ok)
        self.banner.style().polish(self.banner)

    def show_events(self, events: list[str]) -> None:
        chosen = self.kind.currentData()
        self.kind.blockSignals(True)
        self.kind.clear()
        self.kind.addItem(self.tr("All events"), "")
        for event in events:
            self.kind.addItem(event_title(event), event)
        self.kind.setCurrentIndex(max(0, self.kind.findData(chosen)))
        self.kind.blockSignals(False)

    def _apply_filter(self) -> None:
        query = Query(ListKind.AUDIT, search=self.search.text().strip(), event=str(self.kind.currentData() or ""))
        if query != self.model.query:
            self.model.set_query(query)
