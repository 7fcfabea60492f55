"""Render the app icon from its SVG source into the raster files the installers need.

Run after editing ``resources/icons/practice-client.svg``; the outputs are committed so a
build never depends on an SVG renderer. Qt's own SVG renderer is used (ImageMagick here
has no SVG delegate); ImageMagick then packs the Windows ``.ico``.

    QT_QPA_PLATFORM=offscreen .venv/bin/python installer/render_icons.py
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication, QImage, QPainter
from PySide6.QtSvg import QSvgRenderer

ICONS = Path(__file__).resolve().parent.parent / "resources" / "icons"
SOURCE = ICONS / "practice-client.svg"
PNG_SIZES = (16, 24, 32, 48, 64, 128, 256, 512, 1024)
ICO_SIZES = (16, 24, 32, 48, 64, 128, 256)


def render(renderer: QSvgRenderer, size: int, target: Path) -> None:
    image = QImage(size, size, QImage.Format.Format_ARGB32)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    renderer.render(painter)
    painter.end()
    if not image.save(str(target)):
        raise SystemExit(f"{target}: cannot write")


def main() -> int:
    _app = QGuiApplication(sys.argv[:1])
    renderer = QSvgRenderer(str(SOURCE))
    if not renderer.isValid():
        raise SystemExit(f"{SOURCE}: not a valid SVG")
    for size in PNG_SIZES:
        render(renderer, size, ICONS / f"practice-client-{size}.png")
    (ICONS / "practice-client.png").write_bytes((ICONS / "practice-client-256.png").read_bytes())
    subprocess.run(
        ["convert", *(str(ICONS / f"practice-client-{s}.png") for s in ICO_SIZES),
         str(ICONS / "practice-client.ico")],
        check=True,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
