"""``practice-client gui``: the desktop app, and ``--screenshot`` for review."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

PAGES = ("requests", "deliveries", "patients", "audit", "settings")


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("gui", help="the desktop app (default)")
    p.add_argument("--screenshot", metavar="FILE.png", help="render the main window to a PNG and exit")
    p.add_argument("--page", choices=PAGES, default="requests")
    p.set_defaults(func=run)


def choose_platform(screenshot: bool) -> None:
    """``--screenshot`` always renders offscreen; the app needs a display (one-line error otherwise,
    instead of Qt aborting the process)."""
    if os.environ.get("QT_QPA_PLATFORM"):
        return
    if screenshot:
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
    elif sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        from practice_client.core.errors import NotAvailable

        raise NotAvailable(
            "keine grafische Anzeige / no graphical display ($DISPLAY): "
            "use 'practice-client agent' to run without a window"
        )


def run(args: argparse.Namespace) -> int:
    from practice_client.context import Context

    choose_platform(bool(args.screenshot))
    ctx = Context()
    try:
        if args.screenshot:
            from practice_client.gui.app import screenshot

            return screenshot(ctx, Path(args.screenshot), args.page)
        from practice_client.gui.app import run as run_app

        return run_app(ctx, args.page)
    finally:
        ctx.close()
