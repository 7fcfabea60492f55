"""Render the app icon from its SVG source into the raster files the installers need.

Run after editing ``resources/icons/practice-client.svg``; the outputs are committed so a
build never depends on an SVG renderer. Qt's own SVG renderer is used (ImageMagick here
has no SVG delegate); ImageMagick then packs the Windows ``.ico``, and the macOS
``.icns`` is written directly (it is a list of PNGs).

    QT_QPA_PLATFORM=offscreen .venv/bin/python installer/render_icons.py
"""

from __future__ import annotations

import struct
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
# macOS .icns entries that hold PNG data: type code -> pixel size.
ICNS_TYPES = {b"icp4": 16, b"icp5": 32, b"ic11": 32, b"icp6": 64, b"ic12": 64, b"ic07": 128,
              b"ic08": 256, b"ic13": 256, b"ic09": 512, b"ic14": 512, b"ic10": 1024}


def render(renderer: QSvgRenderer, size: int, target: Path) -> None:
    image = QImage(size, size, QImage.Format.Format_ARGB32)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    renderer.render(painter)
    painter.end()
    if not image.save(str(target)):
        raise SystemExit(f"{target}: cannot write")


def write_icns(target: Path) -> None:
    """An Apple icon file (PNG entries), so building on a Mac needs no image converter."""
    body = b""
    for kind, size in ICNS_TYPES.items():
        png = (ICONS / f"practice-client-{size}.png").read_bytes()
        body += kind + struct.pack(">I", len(png) + 8) + png
    target.write_bytes(b"icns" + struct.pack(">I", len(body) + 8) + body)


def main() -> int:
    _app = QGuiApplication(sys.argv[:1])
    renderer = QSvgRenderer(str(SOURCE))
    if not renderer.isValid():
        raise SystemExit(f"{SOURCE}: not a valid SVG")
    for size in PNG_SIZES:
        render(renderer, size, ICONS / f"practice-client-{size}.png")
    (ICONS / "practice-client.png").write_bytes((ICONS / "practice-client-256.png").read_bytes())
    write_icns(ICONS / "practice-client.icns")
    subprocess.run(
        ["convert", *(str(ICONS / f"practice-client-{s}.png") for s in ICO_SIZES),
         str(ICONS / "practice-client.ico")],
        check=True,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
