"""The tray icon: status at a glance and notifications (new requests, failures).

Where the desktop has no system tray (some Linux desktops, offscreen, plain Xvfb)
the notifier degrades: notifications are still recorded and emitted as ``shown``,
and the main window shows them in its status bar; closing the window then quits
instead of hiding (an invisible app without a tray icon could not be reached).
"""

from __future__ import annotations

from enum import StrEnum

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QAction, QIcon
from PySide6.QtWidgets import QMenu, QSystemTrayIcon

from practice_client.gui.formatting import fill
from practice_client.gui.resources import app_icon, icon


class TrayStatus(StrEnum):
    CONNECTED = "connected"
    OFFLINE = "offline"
    ATTENTION = "attention"


class Tray(QObject):
    """Status + notifications, with or without a real system tray."""

    shown = Signal(str, str)  # title, text: every notification, tray or not
    openRequested = Signal()
    quitRequested = Signal()

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.status = TrayStatus.OFFLINE
        self.history: list[tuple[str, str]] = []
        self.icon: QSystemTrayIcon | None = None
        self._menu: QMenu | None = None
        if QSystemTrayIcon.isSystemTrayAvailable():
            self._create_icon()
        self.set_status(TrayStatus.OFFLINE)

    @property
    def available(self) -> bool:
        return self.icon is not None

    def _create_icon(self) -> None:
        self.icon = QSystemTrayIcon(app_icon(), self)
        self._menu = QMenu()
        open_action = QAction(self.tr("Open Practice Client"), self._menu)
        quit_action = QAction(self.tr("Quit"), self._menu)
        open_action.triggered.connect(self.openRequested)
        quit_action.triggered.connect(self.quitRequested)
        self._menu.addAction(open_action)
        self._menu.addSeparator()
        self._menu.addAction(quit_action)
        self.icon.setContextMenu(self._menu)
        self.icon.activated.connect(
            lambda reason: self.openRequested.emit() if reason == QSystemTrayIcon.ActivationReason.Trigger else None
        )
        self.icon.show()

    def status_text(self) -> str:
        return {
            TrayStatus.CONNECTED: self.tr("Connected"),
            TrayStatus.OFFLINE: self.tr("Offline"),
            TrayStatus.ATTENTION: self.tr("Needs attention"),
        }[self.status]

    def status_icon(self) -> QIcon:
        return {
            TrayStatus.CONNECTED: icon("status-ok"),
            TrayStatus.OFFLINE: icon("status-closed"),
            TrayStatus.ATTENTION: icon("status-warn"),
        }[self.status]

    def set_status(self, status: TrayStatus) -> None:
        """The tray icon itself changes (app icon / warning / offline) and its tooltip says it in words."""
        self.status = status
        if self.icon is not None:
            self.icon.setIcon(app_icon() if status is TrayStatus.CONNECTED else self.status_icon())
            self.icon.setToolTip(fill(self.tr("Practice Client – %1"), self.status_text()))

    def notify(self, title: str, text: str, warning: bool = False) -> None:
        """Show a notification (never with patient data: counts and states only)."""
        self.history.append((title, text))
        if self.icon is not None:
            kind = QSystemTrayIcon.MessageIcon.Warning if warning else QSystemTrayIcon.MessageIcon.Information
            self.icon.showMessage(title, text, kind, 10000)
        self.shown.emit(title, text)

    def new_requests(self, count: int) -> None:
        self.notify(self.tr("New request"), fill(self.tr("%1 new request(s) are waiting for a decision."), count))

    def failure(self, message: str) -> None:
        self.notify(self.tr("Delivery problem"), message or self.tr("A delivery failed."), warning=True)

    def share_quarantined(self, message: str) -> None:
        """A document a patient shared was quarantined (malware, no valid signature, active
        content): staff look on the Eingang page."""
        self.notify(self.tr("Shared document quarantined"), message, warning=True)

    def hide(self) -> None:
        if self.icon is not None:
            self.icon.hide()
