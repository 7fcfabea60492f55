"""``practice-client demo``: local platform + simulated patient + this client, end to end."""

from __future__ import annotations

import argparse

from practice_client.commands import not_yet


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("demo", help="end-to-end demo on the embedded local platform")
    p.add_argument("--headless", action="store_true", help="no GUI: print each step and exit")
    p.set_defaults(func=not_yet)
