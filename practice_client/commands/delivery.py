"""``agent``, ``send`` and ``outbox``: document delivery."""

from __future__ import annotations

import argparse

from practice_client.commands import not_yet


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("agent", help="headless: intake + watched folder + uploads, until stopped")
    p.set_defaults(func=not_yet)
    p = sub.add_parser("send", help="deliver files for an accepted request")
    p.add_argument("files", nargs="+", metavar="FILE")
    p.add_argument("--request", required=True, metavar="ID")
    p.set_defaults(func=not_yet)
    p = sub.add_parser("outbox", help="documents on their way, delivered and failed")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=not_yet)
