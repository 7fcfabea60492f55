"""Garbage is collected in the GUI thread, never in a worker (a Qt object destroyed in a
worker thread crashes the app: seen in CI as a segfault)."""

from __future__ import annotations

import gc
import threading

from PySide6.QtWidgets import QApplication


def test_garbage_is_collected_in_the_gui_thread_never_in_a_worker(qtbot, gui_app: QApplication) -> None:
    assert not gc.isenabled()  # the app (gc_guard) switched automatic collection off
    died_in: list[str] = []

    class Cycle:
        def __init__(self) -> None:
            self.me = self  # only the cycle collector can free it

        def __del__(self) -> None:
            died_in.append(threading.current_thread().name)

    for _ in range(10):
        Cycle()

    kept: list[list[object]] = []

    def allocate() -> None:  # what a worker does: enough new objects to pass every threshold
        kept.extend([] for _ in range(50_000))

    worker = threading.Thread(target=allocate, name="worker")
    worker.start()
    worker.join()
    assert died_in == []  # automatic collection would have run in the worker, right there
    qtbot.waitUntil(lambda: len(died_in) == 10, timeout=5000)  # the GUI thread's timer
    assert set(died_in) == {threading.main_thread().name}
    kept.clear()


def test_the_first_screen_freezes_what_lives_as_long_as_the_app(qtbot, client) -> None:  # type: ignore[no-untyped-def]
    """After the first screen, full collections walk only what came later (a full walk of
    a big window took 50 ms and more in the GUI thread); new cycles are still collected."""
    from practice_client.gui.app import build_window

    gc.unfreeze()
    controller, _tray, window = build_window(client)
    qtbot.addWidget(window)
    try:
        with qtbot.waitSignal(controller.overviewLoaded, timeout=30000):
            controller.refresh()
        frozen = gc.get_freeze_count()
        assert frozen > 10_000, "the modules, classes and the window are in the permanent generation"
        died: list[bool] = []

        class Cycle:
            def __init__(self) -> None:
                self.me = self

            def __del__(self) -> None:
                died.append(True)

        Cycle()
        gc.collect()
        assert died == [True], "a cycle made after the first screen is still collected"
    finally:
        controller.shutdown()
