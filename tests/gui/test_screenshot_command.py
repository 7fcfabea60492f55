"""``practice-client gui --screenshot FILE.png --page P`` renders offscreen and exits."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from PySide6.QtGui import QImage

from practice_client.context import Context
from tests.support.gui_state import populate


def test_screenshot_of_every_page_with_real_state(client: Context, tmp_path: Path) -> None:
    populate(client.store)
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    for page in ("requests", "settings"):
        out = tmp_path / f"{page}.png"
        result = subprocess.run(
            [sys.executable, "-m", "practice_client", "gui", "--screenshot", str(out), "--page", page],
            capture_output=True, text=True, timeout=120, env=env,
        )
        assert result.returncode == 0, result.stderr
        image = QImage(str(out))
        assert (image.width(), image.height()) == (1440, 860)
        assert len({image.pixel(x, 400) for x in range(0, 1440, 7)}) > 5, "the page is not blank"


def test_screenshot_refuses_an_unwritable_target_and_says_so(client: Context, tmp_path: Path) -> None:
    target = tmp_path / "missing-dir" / "x.png"
    (tmp_path / "missing-dir").write_text("a file, not a folder")
    result = subprocess.run(
        [sys.executable, "-m", "practice_client", "gui", "--screenshot", str(target)],
        capture_output=True, text=True, timeout=120, env={**os.environ, "QT_QPA_PLATFORM": "offscreen"},
    )
    assert result.returncode != 0
    assert len(result.stderr.strip().splitlines()) == 1 and "x.png" in result.stderr


def test_without_a_display_the_app_says_so_in_one_line(client: Context) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    for args in ((), ("demo",)):
        result = subprocess.run([sys.executable, "-m", "practice_client", *args], capture_output=True, text=True,
                                timeout=120, env=env)
        assert result.returncode == 2
        assert result.stderr.strip().splitlines() == [result.stderr.strip()] and "DISPLAY" in result.stderr
