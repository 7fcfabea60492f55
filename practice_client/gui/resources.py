"""Where the app's icons and translations are, in a checkout and in a frozen bundle."""

from __future__ import annotations

import sys
from functools import cache
from pathlib import Path

from PySide6.QtGui import QIcon


def resources_dir() -> Path:
    """``resources/`` of the checkout, or the copy PyInstaller puts next to the code."""
    bundled = getattr(sys, "_MEIPASS", None)
    if bundled:
        return Path(bundled) / "resources"
    return Path(__file__).resolve().parents[2] / "resources"


@cache
def icon(name: str) -> QIcon:
    """An icon from ``resources/icons/<name>.svg`` (or ``.png``)."""
    for suffix in (".svg", ".png"):
        path = resources_dir() / "icons" / f"{name}{suffix}"
        if path.exists():
            return QIcon(str(path))
    return QIcon()


def app_icon() -> QIcon:
    return icon("practice-client")
