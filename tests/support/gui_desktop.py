"""GUI tests on a real desktop: the application set up like the real one (and its garbage
collected in the GUI thread), real drag-and-drop events, and a real X server with a
system tray (Xvfb + trayer) for what offscreen cannot show."""

from __future__ import annotations

import gc
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication

from practice_client.gui.app import application
from practice_client.gui.gc_guard import collect_in_gui_thread
from tests.conftest import require


def drag_and_drop(target, paths: list[Path]) -> tuple[bool, bool]:  # type: ignore[no-untyped-def]
    """A real drag-enter + drop of local files on ``target``; returns (enter, drop) accepted."""
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    enter = QDragEnterEvent(QPoint(20, 20),  # takes a QPoint (QDropEvent: QPointF)
                            Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                            Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(target, enter)
    drop = QDropEvent(QPointF(20, 20), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                      Qt.KeyboardModifier.NoModifier)
    if enter.isAccepted():
        QApplication.sendEvent(target, drop)
    return enter.isAccepted(), drop.isAccepted()


@pytest.fixture
def x_display() -> Iterator[str]:
    require(shutil.which("Xvfb") is not None and shutil.which("trayer") is not None, "Xvfb and trayer")
    read, write = os.pipe()
    xvfb = subprocess.Popen(["Xvfb", "-displayfd", str(write), "-screen", "0", "1024x768x24", "-nolisten", "tcp"],
                            pass_fds=(write,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.close(write)
    with os.fdopen(read) as handle:
        display = ":" + handle.readline().strip()  # Xvfb writes its number once it accepts clients
    trayer = subprocess.Popen(["trayer"], env={**os.environ, "DISPLAY": display},
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        yield display
    finally:
        for process in (trayer, xvfb):
            process.terminate()
            process.wait(timeout=10)


@pytest.fixture(scope="session")
def gui_app(qapp: QApplication) -> QApplication:
    """pytest-qt's application, set up like the real one (German, Fusion, style sheet,
    garbage collected in the GUI thread only)."""
    return application("de")


@pytest.fixture(autouse=True)
def garbage_in_the_gui_thread(gui_app: QApplication) -> Iterator[None]:
    """As in the app, no collection in worker threads during a GUI test (gc_guard); its
    garbage is collected here, in the GUI thread, and the rest of the suite runs with
    automatic collection as usual."""
    collect_in_gui_thread(gui_app)
    yield
    gc.unfreeze()  # a window's first screen froze what existed (app.build_window): not across tests
    gc.collect()
    gc.enable()
