"""The GUI demo end to end, clicked like a newcomer would: the simulated patient's request
arrives through the app's own agent (real HTTPS platform, real DKIM over loopback DNS),
the tray notifies, staff accept in the window, and the letter reaches the patient."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from practice_client.demo import Demo
from practice_client.gui.demo import GuiDemo, prepare_world, start_gui_demo

pytestmark = pytest.mark.slow


@pytest.fixture
def gui_demo(qtbot, gui_app: QApplication, keyring_backend: str) -> Iterator[GuiDemo]:
    demo = Demo(lambda _line: None)
    script: GuiDemo | None = None
    try:
        prepare_world(demo)
        script = start_gui_demo(demo, delay_ms=300)
        qtbot.addWidget(script.window)
        yield script
    finally:
        if script is not None:
            script.controller.shutdown()
        demo.close()


def test_demo_request_arrives_is_accepted_by_click_and_delivered(qtbot, gui_demo: GuiDemo) -> None:
    window, tray = gui_demo.window, gui_demo.tray
    with qtbot.waitSignal(window.controller.newRequests, timeout=60000):
        pass  # the patient sends; the agent polls the platform, verifies and stores it
    qtbot.waitUntil(lambda: any(title == "Neue Anfrage" for title, _ in tray.history), timeout=5000)
    page = window.pages["requests"]
    qtbot.waitUntil(lambda: page.model.rowCount() == 1, timeout=30000)  # the refresh brought it
    assert page.list.select_key(page.model.rows()[0].key)
    detail = page.detail
    assert detail.view is not None and str(detail.view.record.verdict) == "verified"
    assert detail.view.patient_name == "Erika Mustermann"
    with qtbot.waitSignal(gui_demo.finished, timeout=180000) as finished:
        qtbot.mouseClick(detail.accept_button, Qt.MouseButton.LeftButton)
    assert finished.args == [True]
    assert window.current_page() == "deliveries"
    assert any("entschlüsselt" in text for _, text in tray.history)
