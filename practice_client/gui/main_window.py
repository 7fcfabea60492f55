"""The main window: navigation on the left, one page at a time, a message bar for
problems and a status bar that says what needs staff."""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QCloseEvent, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QProgressBar,
    QPushButton,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from practice_client.gui.controller import Controller
from practice_client.gui.formatting import fill
from practice_client.gui.pages.audit import AuditPage
from practice_client.gui.pages.deliveries import DeliveriesPage
from practice_client.gui.pages.inbox import InboxPage
from practice_client.gui.pages.patients import PatientsPage
from practice_client.gui.pages.requests import RequestsPage
from practice_client.gui.pages.settings import SettingsPage
from practice_client.gui.resources import app_icon, icon
from practice_client.gui.tray import Tray, TrayStatus
from practice_client.gui.viewmodels import Overview

PAGES = ("requests", "deliveries", "inbox", "patients", "audit", "settings")


class MainWindow(QMainWindow):
    closed = Signal()  # closed for good (not hidden to the tray): the app ends

    def __init__(self, controller: Controller, tray: Tray, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.controller = controller
        self.tray = tray
        self.quitting = False
        self.setWindowTitle(self.tr("Practice Client"))
        self.setWindowIcon(app_icon())
        self.resize(1280, 800)
        central = QWidget()
        self.setCentralWidget(central)
        outer = QHBoxLayout(central)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.setSpacing(0)
        self.navigation = QListWidget()
        self.navigation.setObjectName("navigation")
        self.navigation.setAccessibleName(self.tr("Navigation"))
        self.navigation.setIconSize(QSize(20, 20))
        self.navigation.setFixedWidth(170)
        outer.addWidget(self.navigation)
        right = QVBoxLayout()
        right.setContentsMargins(16, 12, 16, 8)
        outer.addLayout(right, 1)
        self.title = QLabel()
        self.title.setObjectName("pageTitle")
        right.addWidget(self.title)
        self.message_bar = self._message_bar()
        right.addWidget(self.message_bar)
        self.stack = QStackedWidget()
        right.addWidget(self.stack, 1)
        self.pages = {
            "requests": RequestsPage(controller),
            "deliveries": DeliveriesPage(controller),
            "inbox": InboxPage(controller),
            "patients": PatientsPage(controller),
            "audit": AuditPage(controller),
            "settings": SettingsPage(controller),
        }
        titles = {
            "requests": self.tr("Requests"),
            "deliveries": self.tr("Deliveries"),
            "inbox": self.tr("Incoming"),
            "patients": self.tr("Patients"),
            "audit": self.tr("Audit log"),
            "settings": self.tr("Settings"),
        }
        self.titles = titles
        for number, (key, page) in enumerate(self.pages.items(), 1):
            item = QListWidgetItem(titles[key])
            item.setData(Qt.ItemDataRole.UserRole, key)
            item.setToolTip(f"{titles[key]} (Ctrl+{number})")
            self.navigation.addItem(item)
            self.stack.addWidget(page)
            shortcut = QShortcut(QKeySequence(f"Ctrl+{number}"), self)
            shortcut.activated.connect(lambda key=key: self.show_page(key))
        self.navigation.currentRowChanged.connect(self._row_changed)
        self.busy = QProgressBar()
        self.busy.setRange(0, 0)
        self.busy.setMaximumWidth(120)
        self.busy.setAccessibleName(self.tr("Working"))
        self.busy.hide()
        self.connection = QLabel()
        self.attention = QLabel()
        self.statusBar().addWidget(self.connection)
        self.statusBar().addWidget(self.attention, 1)
        self.statusBar().addPermanentWidget(self.busy)
        controller.busyChanged.connect(self.busy.setVisible)
        controller.failed.connect(self.show_error)
        controller.overviewLoaded.connect(self._overview)
        controller.connectionChanged.connect(self._connection)
        controller.newRequests.connect(tray.new_requests)
        controller.agentFailure.connect(tray.failure)
        controller.shareQuarantined.connect(lambda _share_id, message: tray.share_quarantined(message))
        controller.requestDecided.connect(self._decided)
        controller.filesAdded.connect(
            lambda _rid, n: self.statusBar().showMessage(fill(self.tr("%1 file(s) added to the outbox."), n), 8000))
        tray.shown.connect(lambda title, text: self.statusBar().showMessage(f"{title}: {text}", 15000))
        tray.openRequested.connect(self.bring_to_front)
        tray.quitRequested.connect(self.quit)
        self._connection("offline")
        self.show_page("requests")

    def _message_bar(self) -> QFrame:
        bar = QFrame()
        bar.setObjectName("messageBar")
        row = QHBoxLayout(bar)
        self.message_icon = QLabel()
        self.message_icon.setPixmap(icon("status-fail").pixmap(20, 20))
        self.message = QLabel(wordWrap=True)
        self.message.setTextFormat(Qt.TextFormat.PlainText)
        self.message.setAccessibleName(self.tr("Error message"))
        close = QPushButton(self.tr("Close"))
        close.setAccessibleName(self.tr("Close the error message"))
        close.clicked.connect(bar.hide)
        row.addWidget(self.message_icon)
        row.addWidget(self.message, 1)
        row.addWidget(close)
        bar.hide()
        return bar

    # -- navigation ---------------------------------------------------------------

    def show_page(self, key: str) -> None:
        self.navigation.setCurrentRow(PAGES.index(key))

    def current_page(self) -> str:
        return PAGES[self.stack.currentIndex()]

    def _row_changed(self, row: int) -> None:
        if row < 0:
            return
        self.stack.setCurrentIndex(row)
        self.title.setText(self.titles[PAGES[row]])

    # -- feedback -------------------------------------------------------------------

    def show_error(self, action: str, message: str) -> None:
        del action  # the message names the file and the problem already
        self.message.setText(message)
        self.message_bar.show()

    def _decided(self, _request_id: str, status: str) -> None:
        text = self.tr("Request accepted.") if status == "accepted" else self.tr("Request declined.")
        self.statusBar().showMessage(text, 8000)

    def _overview(self, overview: Overview) -> None:
        count = overview.attention_count()
        self.attention.setText(
            fill(self.tr("⚠ %1 item(s) need your attention"), count) if count else self.tr("✔ Nothing to do")
        )
        if count:
            self.tray.set_status(TrayStatus.ATTENTION)
        elif self.tray.status is TrayStatus.ATTENTION:
            self.tray.set_status(TrayStatus.CONNECTED if self.controller.bridge.running else TrayStatus.OFFLINE)
        waiting, stuck = overview.waiting_requests, overview.stuck_documents
        self.navigation.item(0).setText(
            f"{self.titles['requests']} ({waiting})" if waiting else self.titles["requests"])
        self.navigation.item(1).setText(
            f"{self.titles['deliveries']} ({stuck})" if stuck else self.titles["deliveries"])
        held = overview.shares_needing_staff
        self.navigation.item(PAGES.index("inbox")).setText(
            f"{self.titles['inbox']} ({held})" if held else self.titles["inbox"])

    def _connection(self, state: str) -> None:
        """``connected``/``offline``: the platform (an agent of this window); ``service-online``/
        ``service-offline``: the practice service of a workstation."""
        online = state in ("connected", "service-online")
        if self.tray.status is not TrayStatus.ATTENTION:
            self.tray.set_status(TrayStatus.CONNECTED if online else TrayStatus.OFFLINE)
        texts = {"connected": self.tr("● Connected to the platform"),
                 "service-online": self.tr("● Connected to the practice service"),
                 "service-offline": self.tr("○ The practice service cannot be reached: the lists show the last "
                                            "state, actions wait until it is back")}
        self.connection.setText(texts.get(state, self.tr("○ Offline")))
        self.connection.setProperty("state", state)

    # -- window life ------------------------------------------------------------------

    def bring_to_front(self) -> None:
        self.showNormal()
        self.raise_()
        self.activateWindow()

    def quit(self) -> None:
        self.quitting = True
        self.close()

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt's name
        """Closing keeps the agent running in the tray (if configured and a tray exists)."""
        if not self.quitting and self.controller.config.close_to_tray and self.tray.available:
            event.ignore()
            self.hide()
            self.tray.notify(self.tr("Still running"), self.tr("Practice Client keeps working in the background."))
            return
        event.accept()
        self.closed.emit()
