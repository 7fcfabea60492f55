"""The tray icon on a real X server with a real system tray (Xvfb + trayer): the icon
shows, its tooltip says the status in words, and notifications are posted. Offscreen
(the other GUI tests) there is no tray, which is the degraded mode tested there."""

from __future__ import annotations

import json
import os
import subprocess
import sys

CHILD = r"""
import json, sys, threading, time
from PySide6.QtWidgets import QSystemTrayIcon
from practice_client.gui.app import application
app = application("de")
deadline = time.monotonic() + 20
while not QSystemTrayIcon.isSystemTrayAvailable() and time.monotonic() < deadline:
    threading.Event().wait(0.05)  # the tray (trayer) takes the selection shortly after start
from practice_client.gui.tray import Tray, TrayStatus
tray = Tray()
tray.set_status(TrayStatus.ATTENTION)
tray.new_requests(1)
app.processEvents()
print(json.dumps({"available": tray.available, "visible": bool(tray.icon and tray.icon.isVisible()),
                  "tooltip": tray.icon.toolTip() if tray.icon else "", "history": tray.history}))
"""


def test_tray_icon_status_and_notification_on_a_real_tray(x_display: str) -> None:
    env = {**os.environ, "DISPLAY": x_display, "QT_QPA_PLATFORM": "xcb"}
    result = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True, timeout=120, env=env)
    assert result.returncode == 0, result.stderr
    state = json.loads(result.stdout.strip().splitlines()[-1])
    assert state["available"] and state["visible"]
    assert state["tooltip"] == "Practice Client – Braucht Aufmerksamkeit"
    assert state["history"] == [["Neue Anfrage", "1 neue Anfrage(n) warten auf eine Entscheidung."]]
