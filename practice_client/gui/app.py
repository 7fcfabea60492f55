"""Starting the desktop app, and rendering it to a PNG for review (``--screenshot``)."""

from __future__ import annotations

import logging
import signal
import sys
from pathlib import Path

from PySide6.QtCore import QEventLoop, QMessageLogContext, QSize, QTimer, QtMsgType, qInstallMessageHandler
from PySide6.QtWidgets import QApplication, QWidget

from practice_client.context import Context
from practice_client.core.errors import InputError, PracticeClientError
from practice_client.gui.binding_check import check_binding
from practice_client.gui.connect_wizard import ConnectWizard
from practice_client.gui.controller import Controller
from practice_client.gui.gc_guard import collect_in_gui_thread, freeze_startup
from practice_client.gui.i18n import install_translators
from practice_client.gui.main_window import MainWindow
from practice_client.gui.resources import app_icon
from practice_client.gui.single_instance import SingleInstance
from practice_client.gui.style import STYLE_SHEET
from practice_client.gui.tray import Tray
from practice_client.gui.wizard import SetupWizard

log = logging.getLogger(__name__)

SCREENSHOT_SIZE = QSize(1440, 860)
LOAD_TIMEOUT_MS = 30000


def application(language: str) -> QApplication:
    """The one QApplication, with translations, icon and style."""
    app = QApplication.instance()
    if not isinstance(app, QApplication):
        app = QApplication(sys.argv[:1])
    qInstallMessageHandler(_qt_messages_to_log)
    app.setApplicationName("Practice Client")
    app.setOrganizationName("PracticeClient")
    app.setWindowIcon(app_icon())
    app.setStyle("Fusion")
    app.setStyleSheet(STYLE_SHEET)
    app.setProperty("translators", install_translators(app, language))
    collect_in_gui_thread(app)
    check_binding()
    return app


def make_controller(ctx: Context) -> Controller:
    """A workstation's home (paired with a practice service) gets the service's window: it
    reads and acts through the service and never opens a database; any other home its own."""
    from practice_client.service.connection import credential, load_connection

    connection = load_connection(ctx.home)
    if connection is None:
        return Controller(ctx)
    from practice_client.gui.remote_controller import RemoteController
    from practice_client.service.client import ServiceClient

    return RemoteController(ctx, ServiceClient(connection, credential(ctx.secrets)))


def service_to_join(ctx: Context) -> tuple[str, Path | None] | None:
    """Where a home that is not set up should connect instead: the practice service the
    administrator named (``service_address``) or the one running on this PC (with its home,
    when this account may ask it for a code); None: set up a practice of its own."""
    from practice_client.service.workstation import local_service

    local = local_service()
    if ctx.config.service_address:
        return ctx.config.service_address, local[1] if local else None
    return (local[0], local[1]) if local else None


def build_window(ctx: Context) -> tuple[Controller, Tray, MainWindow]:
    controller = make_controller(ctx)
    tray = Tray(controller)
    window = MainWindow(controller, tray)

    def first_screen(_overview: object) -> None:
        controller.overviewLoaded.disconnect(first_screen)
        freeze_startup()

    controller.overviewLoaded.connect(first_screen)
    return controller, tray, window


def load_once(controller: Controller, timeout_ms: int = LOAD_TIMEOUT_MS) -> None:
    """Load the window's data - the overview and the first page of the lists shown - and
    wait until every read has finished (screenshots): raises on failure or timeout."""
    loop = QEventLoop()
    outcome: list[str | None] = []

    def finish(problem: str | None) -> None:
        outcome.append(problem)
        loop.quit()

    controller.workers.busyChanged.connect(lambda busy: None if busy else finish(None))
    controller.failed.connect(lambda _action, message: finish(message))
    QTimer.singleShot(timeout_ms, lambda: finish("the window's data did not load in time"))
    controller.refresh()
    if not outcome:
        loop.exec()
    if outcome[0] is not None:
        raise PracticeClientError(f"{outcome[0]}; no screenshot was written")


def check_target(path: Path) -> None:
    """Refuse a bad target before anything is rendered (one line, naming the file)."""
    if path.suffix.lower() != ".png":
        raise InputError(path, "the screenshot must be a .png file")
    if path.is_dir():
        raise InputError(path, "is a folder, not a file")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(path, f"cannot create its folder: {exc.strerror or type(exc).__name__}") from None


def save_screenshot(widget: QWidget, path: Path) -> None:
    """Write the PNG atomically (temp file, then rename)."""
    tmp = path.with_name(f".{path.name}.tmp.png")
    if not widget.grab().save(str(tmp), "PNG"):
        tmp.unlink(missing_ok=True)
        raise InputError(path, "cannot write the screenshot")
    tmp.replace(path)


def _qt_messages_to_log(kind: QtMsgType, _context: QMessageLogContext, message: str) -> None:
    """Qt's own warnings go to the log file, not the terminal (where only our one-line errors belong)."""
    level = logging.WARNING if kind in (QtMsgType.QtCriticalMsg, QtMsgType.QtFatalMsg) else logging.DEBUG
    log.log(level, "qt: %s", message)


def screenshot(ctx: Context, path: Path, page: str, size: QSize = SCREENSHOT_SIZE) -> int:
    """Render the main window with the current state of the home to ``path`` and return."""
    check_target(path)
    application(ctx.config.language)
    controller, _tray, window = build_window(ctx)
    window.resize(size)
    window.show_page(page)
    window.show()
    try:
        load_once(controller)
    finally:
        controller.shutdown()
    for _ in range(3):  # deferred layout passes (wrapped text is measured once shown)
        QApplication.processEvents()
    save_screenshot(window, path)
    window.close()
    return 0


def quit_on_signals(app: QApplication) -> None:
    """SIGINT/SIGTERM (a logout, a service manager, Ctrl+C) end the app cleanly: the
    agent stops and running jobs finish. A timer lets Python run its signal handlers
    while Qt's event loop waits."""
    for number in (signal.SIGINT, signal.SIGTERM):
        # exit(), not quit(): Qt 6's quit() first asks windows to close, and the main
        # window declines when it goes to the tray
        signal.signal(number, lambda *_: app.exit(0))
    ticker = QTimer(app)
    ticker.timeout.connect(lambda: None)
    ticker.start(250)


def run(ctx: Context, page: str = "requests", start_agent: bool = True) -> int:
    """The desktop app until the user quits. A second start focuses the running one."""
    app = application(ctx.config.language)
    instance = SingleInstance(ctx.home.instance_id())
    if instance.notify_running():
        log.info("another instance is running; asked it to come to the front")
        return 0
    if not instance.listen():
        log.info("another instance took over the single-instance name first")
        return 0
    # quitting is explicit: the main window's close (unless it went to the tray), the tray's
    # Quit, a cancelled wizard, or SIGINT/SIGTERM - never "the wizard was the last window"
    app.setQuitOnLastWindowClosed(False)
    quit_on_signals(app)
    shown: list[tuple[Controller, Tray, MainWindow]] = []

    def assemble() -> tuple[Controller, Tray, MainWindow]:
        controller, tray, window = build_window(ctx)
        instance.activated.connect(window.bring_to_front)
        window.closed.connect(lambda: app.exit(0))
        tray.quitRequested.connect(window.quit)
        shown[:] = [(controller, tray, window)]
        return controller, tray, window

    def open_main() -> None:
        controller, _tray, window = shown[0]
        window.show_page(page)
        window.show()
        controller.refresh()
        if start_agent:
            controller.start_agent()  # a failure shows in the window's message bar

    def become_workstation() -> None:
        """Paired: the window of the practice service replaces the one of this home."""
        old_controller, old_tray, old_window = shown[0]
        old_controller.shutdown()
        old_tray.hide()
        old_window.deleteLater()
        assemble()
        open_main()

    controller, _tray, _window = assemble()
    service = None if controller.overview.configured else service_to_join(ctx)
    if controller.overview.configured:
        open_main()
    elif service is not None:
        controller.stop_polling()  # nothing of this home to show: it becomes a workstation's
        joining = ConnectWizard(controller, *service)
        joining.accepted.connect(become_workstation)
        joining.rejected.connect(lambda: app.exit(0))
        joining.show()
        instance.activated.connect(joining.raise_)
    else:
        wizard = SetupWizard(controller)
        wizard.accepted.connect(open_main)
        wizard.rejected.connect(lambda: app.exit(0))
        wizard.show()
        instance.activated.connect(wizard.raise_)
    code = app.exec()
    controller, tray, _window = shown[0]
    controller.shutdown()
    tray.hide()
    instance.close()
    return int(code)
