"""``practice-client demo`` with the window: the same scenario as the headless demo
(:mod:`practice_client.demo`), but staff do the deciding by clicking.

Before the window opens, the world is built (local platform, DKIM DNS, identity
authority, a patient with a trust certificate, the client set up and the patient
pinned). A few seconds after the window shows, the simulated patient sends a
request; the app's own agent fetches and verifies it and the tray notifies. When
staff accept it, the practice software "exports" a letter for her, and the Versand
page shows it being encrypted, uploaded and delivered; the patient's app then
opens it and the result is shown.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

from PySide6.QtCore import QObject, QTimer, Signal

from practice_client.core.models import Document, DocumentState
from practice_client.demo import Demo
from practice_client.gui.app import application, build_window, quit_on_signals
from practice_client.gui.controller import Controller
from practice_client.gui.display import choose_platform
from practice_client.gui.main_window import MainWindow
from practice_client.gui.tray import Tray
from practice_client.gui.viewmodels import Overview

log = logging.getLogger(__name__)

REQUEST_DELAY_MS = 4000


class GuiDemo(QObject):
    """The demo's script, driven by the window's signals (GUI thread)."""

    finished = Signal(bool)  # the patient opened the letter (True) or something failed

    def __init__(self, demo: Demo, controller: Controller, window: MainWindow, tray: Tray) -> None:
        super().__init__(window)
        self.demo = demo
        self.controller = controller
        self.window = window
        self.tray = tray
        self._dropped: str | None = None
        self._original = b""
        controller.requestDecided.connect(self._decided)
        controller.overviewLoaded.connect(self._check_delivered)

    def start(self, delay_ms: int = REQUEST_DELAY_MS) -> None:
        self.window.statusBar().showMessage(
            self.tr("Demo: the patient will send a request in a few seconds…"), delay_ms)
        QTimer.singleShot(delay_ms, self._patient_sends)

    def _patient_sends(self) -> None:
        self.controller.workers.start("demo_request", self.demo.patient_sends_request,
                                      lambda _r: self.controller.bridge.poll_now(),
                                      lambda message: self.controller.failed.emit("demo", message))

    def _decided(self, _request_id: str, status: str) -> None:
        if status != "accepted" or self._dropped is not None:
            return
        self._dropped = ""
        self.controller.workers.start("demo_document", self.demo.drop_document, self._document_dropped,
                                      lambda message: self.controller.failed.emit("demo", message))

    def _document_dropped(self, result: tuple[Path, bytes]) -> None:
        path, data = result
        self._dropped, self._original = path.name, data
        self.window.show_page("deliveries")
        self.tray.notify(self.tr("Demo"), self.tr("The practice software exported a letter for the patient."))

    def _check_delivered(self, overview: Overview) -> None:
        if not self._dropped or not overview.count(DocumentState.DELIVERED):
            return
        name, self._dropped = self._dropped, None
        store = self.demo.ctx.store if self.demo.ctx is not None else None

        def opened() -> tuple[Document, bool]:
            assert store is not None
            doc = next(d for _, d in store.page_documents(states=[str(DocumentState.DELIVERED)], limit=100)
                       if d.original_name == name)
            return doc, bool(self.demo.patient_opens(doc, self._original))

        self.controller.workers.start("demo_patient", opened, lambda result: self._opened(*result),
                                      lambda message: self.controller.failed.emit("demo", message))

    def _opened(self, doc: Document, ok: bool) -> None:
        del doc
        if ok:
            self.tray.notify(self.tr("Demo"), self.tr("The patient's app decrypted the letter: identical, "
                                                      "signed by the practice."))
        else:
            self.controller.failed.emit("demo", self.tr("The patient could not open the letter."))
        self.finished.emit(ok)


def start_gui_demo(demo: Demo, delay_ms: int = REQUEST_DELAY_MS) -> GuiDemo:
    """Open the window over the demo's client and start the script (the world must be prepared)."""
    assert demo.ctx is not None
    controller, tray, window = build_window(demo.ctx)
    script = GuiDemo(demo, controller, window, tray)
    window.show_page("requests")
    window.show()
    controller.refresh()
    controller.start_agent()
    script.start(delay_ms)
    return script


def prepare_world(demo: Demo) -> None:
    """Steps 1-7 of the scenario: everything up to the patient's request."""
    demo.start_platform()
    demo.create_patient()
    demo.setup_client()
    demo.import_master_data()
    demo.import_trust_certificate()


def run_gui_demo() -> int:
    choose_platform(offscreen=False)  # before building the world: no display, nothing started
    demo = Demo(lambda line: print(line, flush=True))
    try:
        prepare_world(demo)
        assert demo.ctx is not None
        app = application(demo.ctx.config.language)
        app.setQuitOnLastWindowClosed(False)
        quit_on_signals(app)
        script = start_gui_demo(demo)
        script.window.closed.connect(lambda: app.exit(0))
        code = app.exec()
        script.controller.shutdown()
        script.tray.hide()
        return int(code)
    finally:
        demo.close()


if __name__ == "__main__":
    sys.exit(run_gui_demo())
