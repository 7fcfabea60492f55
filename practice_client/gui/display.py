"""Which Qt platform to use, decided before any QApplication exists.

Without a display Qt aborts the whole process; the app says so in one line instead.
Screenshots always render offscreen.
"""

from __future__ import annotations

import os
import sys

from practice_client.core.errors import NotAvailable
from practice_client.core.text import Text


def choose_platform(offscreen: bool) -> None:
    if os.environ.get("QT_QPA_PLATFORM"):
        return
    if offscreen:
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
    elif sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        raise NotAvailable(Text(
            "keine grafische Anzeige ($DISPLAY): 'practice-client agent' (oder 'demo --headless') läuft ohne Fenster",
            "no graphical display ($DISPLAY): use 'practice-client agent' (or 'demo --headless') to run "
            "without a window",
        ))
