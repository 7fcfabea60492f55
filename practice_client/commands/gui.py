"""``practice-client gui``: the desktop app, and ``--screenshot`` for review."""

from __future__ import annotations

import argparse

from practice_client.commands import not_yet

PAGES = ("requests", "deliveries", "patients", "audit", "settings")


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("gui", help="the desktop app (default)")
    p.add_argument("--screenshot", metavar="FILE.png", help="render the main window to a PNG and exit")
    p.add_argument("--page", choices=PAGES, default="requests")
    p.set_defaults(func=not_yet)
