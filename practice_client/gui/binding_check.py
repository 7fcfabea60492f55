"""The Qt binding must not lose references to ``None``.

PySide6 6.12 on Python 3.11 dropped one reference to ``None`` on every call of a Qt
method that returns nothing (``setText``, ``setData``, ``setIcon``...), and the
interpreter aborts with ``none_dealloc`` once the count reaches zero: a window that
rebuilt its rows died within minutes of normal use. Python 3.12 made ``None``
immortal, and PySide6 6.11 has no such leak. The app measures the pair it runs on
once at start, so a venv or bundle built with a bad pair stops with a clear message
instead of aborting hours later, in the middle of a practice's working day.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

import PySide6
from PySide6.QtWidgets import QLabel

from practice_client.core.errors import PracticeClientError

PROBE_CALLS = 200


def _label_probe() -> Callable[[], None]:
    label = QLabel()
    return lambda: label.setText("x")


def none_references_lost(probe: Callable[[], None] | None = None, calls: int = PROBE_CALLS) -> float:
    """References to ``None`` lost per call of ``probe`` (a Qt method returning nothing).
    0 on a sound pair; on Python 3.12+ always 0, since ``None`` is immortal there.
    Needs a QApplication when ``probe`` is omitted."""
    call = probe or _label_probe()
    call()  # first-call caches are not a leak
    before = sys.getrefcount(None)
    for _ in range(calls):
        call()
    return (before - sys.getrefcount(None)) / calls


def check_binding(probe: Callable[[], None] | None = None) -> None:
    """Raise when the binding leaks ``None`` (the GUI would abort after a few thousand calls)."""
    lost = none_references_lost(probe)
    if lost >= 0.5:
        raise PracticeClientError(
            f"PySide6 {PySide6.__version__} on Python {sys.version.split()[0]} loses a reference to None "
            "on every Qt call, and the window would abort: install the pinned PySide6 "
            "(pyproject.toml) or use Python 3.12 or newer"
        )
