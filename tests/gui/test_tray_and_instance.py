"""Notifications from the agent's events, the tray abstraction's degraded mode, and
single instance (QLocalServer/QLocalSocket, real sockets)."""

from __future__ import annotations

import threading
import uuid

from PySide6.QtWidgets import QSystemTrayIcon

from practice_client.core.text import Text
from practice_client.delivery.events import Connected, Failure, NewRequests
from practice_client.gui.main_window import MainWindow
from practice_client.gui.single_instance import SingleInstance
from practice_client.gui.tray import TrayStatus


def test_new_request_event_from_an_agent_thread_notifies(qtbot, window: MainWindow) -> None:
    tray = window.tray
    bridge = window.controller.bridge
    # the agent calls its sink from its own threads: post from a real other thread
    poster = threading.Thread(target=bridge.post, args=(NewRequests(2),))
    with qtbot.waitSignal(tray.shown, timeout=5000) as shown:
        poster.start()
    poster.join()
    title, text = shown.args
    assert title == "Neue Anfrage" and "2 neue Anfrage(n)" in text
    assert tray.history[-1] == (title, text)
    assert "Neue Anfrage" in window.statusBar().currentMessage()


def test_failure_event_notifies_and_connection_state_is_shown(qtbot, window: MainWindow) -> None:
    bridge = window.controller.bridge
    with qtbot.waitSignal(window.tray.shown, timeout=5000) as shown:
        bridge.post(Failure(Text.same("Dokument 1234: Hochladen fehlgeschlagen")))
    assert shown.args[0] == "Problem beim Versand"
    with qtbot.waitSignal(window.controller.connectionChanged, timeout=5000):
        bridge.post(Connected())
    assert "verbunden" in window.connection.text()
    assert window.tray.status in (TrayStatus.CONNECTED, TrayStatus.ATTENTION)


def test_without_a_system_tray_closing_quits_instead_of_hiding(qtbot, window: MainWindow) -> None:
    """Offscreen (like some Linux desktops) there is no tray: the notifier keeps working
    (status bar) and closing the window must not leave an unreachable hidden app."""
    assert not QSystemTrayIcon.isSystemTrayAvailable()
    assert not window.tray.available
    assert window.controller.config.close_to_tray
    window.close()
    assert not window.isVisible()


def test_second_start_focuses_the_running_instance(qtbot) -> None:
    instance_id = uuid.uuid4().hex
    first = SingleInstance(instance_id)
    assert not first.notify_running(), "nobody runs yet"
    assert first.listen()
    try:
        second = SingleInstance(instance_id)
        with qtbot.waitSignal(first.activated, timeout=5000):
            assert second.notify_running()
        other_home = SingleInstance(uuid.uuid4().hex)
        assert not other_home.notify_running(), "another home is another app"
    finally:
        first.close()
    assert not SingleInstance(instance_id).notify_running(), "after quitting, a new start runs"
