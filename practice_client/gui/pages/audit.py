"""Protokoll: the audit log, filterable, with the hash chain's verification status."""

from __future__ import annotations

import html
import json
from typing import Any

from PySide6.QtCore import QCoreApplication
from PySide6.QtWidgets import (
    QComboBox,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from practice_client.gui.controller import Controller
from practice_client.gui.formatting import datetime_text, fill
from practice_client.gui.resources import icon
from practice_client.gui.viewmodels import Snapshot

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
    }
    return titles.get(event, event)


def details_text(details: object) -> str:
    """``request_id: 1a2b… · override: false`` - identifiers only, as the log holds them."""
    if not isinstance(details, dict):
        return json.dumps(details, ensure_ascii=False)
    parts = []
    for key, value in sorted(details.items()):
        shown = ", ".join(map(str, value)) if isinstance(value, list) else json.dumps(value, ensure_ascii=False)
        parts.append(f"{key}: {shown.strip(chr(34))}")
    return " · ".join(parts)


class AuditPage(QWidget):
    def __init__(self, controller: Controller, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.controller = controller
        self.entries: list[dict[str, Any]] = []
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.banner = QFrame()
        self.banner.setObjectName("chainBanner")
        banner_layout = QHBoxLayout(self.banner)
        self.status_icon = QLabel()
        self.status = QLabel(wordWrap=True)
        self.status.setAccessibleName(self.tr("Verification of the audit log"))
        self.verify_button = QPushButton(self.tr("&Verify again"))
        banner_layout.addWidget(self.status_icon)
        banner_layout.addWidget(self.status, 1)
        banner_layout.addWidget(self.verify_button)
        layout.addWidget(self.banner)
        filters = QHBoxLayout()
        self.search = QLineEdit()
        self.search.setPlaceholderText(self.tr("Filter: id, fingerprint, patient no. …"))
        self.search.setAccessibleName(self.tr("Filter entries"))
        self.search.setClearButtonEnabled(True)
        self.kind = QComboBox()
        self.kind.setAccessibleName(self.tr("Event type"))
        self.kind.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        filter_label = QLabel(self.tr("&Search:"))
        filter_label.setBuddy(self.search)
        filters.addWidget(filter_label)
        filters.addWidget(self.search, 1)
        filters.addWidget(self.kind)
        layout.addLayout(filters)
        self.list = QTreeWidget()
        self.list.setAccessibleName(self.tr("Audit log entries"))
        self.list.setRootIsDecorated(False)
        self.list.setAlternatingRowColors(True)
        self.list.setUniformRowHeights(True)
        self.list.setHeaderLabels([self.tr("No."), self.tr("Time"), self.tr("Event"), self.tr("Details")])
        header = self.list.header()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)
        layout.addWidget(self.list, 1)
        self.search.textChanged.connect(self._apply_filter)
        self.kind.currentIndexChanged.connect(self._apply_filter)
        self.verify_button.clicked.connect(controller.refresh)
        controller.snapshotLoaded.connect(self.show_snapshot)

    def show_snapshot(self, snapshot: Snapshot) -> None:
        result = snapshot.audit_status
        if result is None:
            return
        if result.ok:
            self.status_icon.setPixmap(icon("status-ok").pixmap(ICON_SIZE, ICON_SIZE))
            text = self.tr("<b>Chain intact</b> – all %1 entries verified; none was changed or removed.")
            self.status.setText(fill(text, result.entries))
        else:
            self.status_icon.setPixmap(icon("status-fail").pixmap(ICON_SIZE, ICON_SIZE))
            text = self.tr("<b>Chain broken</b> – the log was altered: %1")
            self.status.setText(fill(text, html.escape(result.problem)))
        self.banner.setProperty("ok", result.ok)
        self.banner.style().polish(self.banner)
        self.entries = snapshot.audit_entries
        chosen = self.kind.currentData()
        self.kind.blockSignals(True)
        self.kind.clear()
        self.kind.addItem(self.tr("All events"), "")
        for event in sorted({str(e.get("event", "")) for e in self.entries}):
            self.kind.addItem(event_title(event), event)
        self.kind.setCurrentIndex(max(0, self.kind.findData(chosen)))
        self.kind.blockSignals(False)
        self.list.clear()
        items = []
        for entry in reversed(self.entries):  # newest first
            details = details_text(entry.get("details", {}))
            event = str(entry.get("event", ""))
            item = QTreeWidgetItem([str(entry.get("seq", "")), datetime_text(str(entry.get("time", ""))),
                                    event_title(event), details])
            item.setToolTip(2, event)
            item.setToolTip(3, details)
            items.append(item)
        self.list.addTopLevelItems(items)
        self._apply_filter()

    def _apply_filter(self) -> None:
        needle = self.search.text().strip().casefold()
        kind = str(self.kind.currentData() or "")
        for index in range(self.list.topLevelItemCount()):
            item = self.list.topLevelItem(index)
            event = item.toolTip(2)
            text = " ".join(item.text(c) for c in range(item.columnCount())) + " " + event
            hidden = bool(kind and event != kind) or bool(needle and needle not in text.casefold())
            item.setHidden(hidden)
