"""``practice-client gui``: the desktop app, and ``--screenshot`` for review."""

from __future__ import annotations

import argparse
from pathlib import Path

PAGES = ("requests", "deliveries", "inbox", "patients", "audit", "settings")


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("gui", help="the desktop app (default)")
    p.add_argument("--screenshot", metavar="FILE.png", help="render the main window to a PNG and exit")
    p.add_argument("--page", choices=PAGES, default="requests")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from practice_client.context import Context
    from practice_client.gui.display import choose_platform

    choose_platform(offscreen=bool(args.screenshot))
    ctx = Context()
    try:
        if args.screenshot:
            from practice_client.gui.app import screenshot

            return screenshot(ctx, Path(args.screenshot), args.page)
        from practice_client.gui.app import run as run_app

        return run_app(ctx, args.page)
    finally:
        ctx.close()
