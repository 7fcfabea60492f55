"""``testbed platform|patient``: the reference platform and the simulated patient app."""

from __future__ import annotations

import argparse

from practice_client.commands import not_yet


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("testbed", help="reference platform and simulated patient (demo, tests)")
    s = p.add_subparsers(dest="action", required=True)
    plat = s.add_parser("platform", help="serve the platform API over HTTPS on loopback")
    plat.add_argument("--data", required=True, metavar="DIR")
    plat.add_argument("--port", type=int, default=0)
    plat.set_defaults(func=not_yet)
    pat = s.add_parser("patient", help="the simulated patient app")
    pat.set_defaults(func=not_yet)
