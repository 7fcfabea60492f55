"""Garbage is collected in the GUI thread only.

Python's cycle collector runs in whichever thread happens to allocate when a threshold is
crossed - in this app often a worker thread (crypto, disk, keyring, network). A reference
cycle that holds a Qt object (a widget whose signal is connected to a lambda that refers
back to it) is then destroyed in that worker, outside the thread that owns it, and Qt
crashes: CI saw a segmentation fault while a keyring worker collected a window of an
earlier test. So automatic collection is off while the GUI runs, and a timer in the GUI
thread collects with the interpreter's own generational thresholds.
"""

from __future__ import annotations

import gc

from PySide6.QtCore import QObject, QTimer

INTERVAL_MS = 500


class MainThreadCollector(QObject):
    """Owned by the QApplication; its timer fires in the GUI thread."""

    def __init__(self, parent: QObject, interval_ms: int = INTERVAL_MS) -> None:
        super().__init__(parent)
        self._threshold = gc.get_threshold()
        gc.disable()
        self._timer = QTimer(self)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self.collect_due)
        self._timer.start()

    def collect_due(self) -> None:
        """Collect the oldest generation whose count passed its threshold (what automatic
        collection would have done by now), here in the GUI thread."""
        counts = gc.get_count()
        due = [generation for generation in range(3) if counts[generation] > self._threshold[generation]]
        if due:
            gc.collect(max(due))


def freeze_startup() -> None:
    """Once the first screen is up, what exists (modules, classes, the window, the lists'
    first pages) lives as long as the app: a full collection would walk all of it again
    and again - 50 ms and more in the GUI thread for a window over a big home. The young
    generations are collected, then everything is moved to the permanent generation, so
    later collections walk only what came after. (Objects are still freed by reference
    counting; only cycles among the frozen would stay - the app's own long-lived ones.)"""
    gc.collect(1)
    gc.freeze()


def collect_in_gui_thread(parent: QObject) -> MainThreadCollector:
    """Install the collector once per application (idempotent); automatic collection stays off."""
    existing = parent.findChild(MainThreadCollector)
    if isinstance(existing, MainThreadCollector):
        gc.disable()
        return existing
    return MainThreadCollector(parent)
