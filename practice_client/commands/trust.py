"""``trust import|list|remove``: patients' trust certificates and pins."""

from __future__ import annotations

import argparse

from practice_client.commands import not_yet


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("trust", help="patients' trust certificates")
    s = p.add_subparsers(dest="action", required=True)
    i = s.add_parser("import", help="verify a trust certificate and pin the patient's key")
    i.add_argument("file", metavar="FILE")
    i.add_argument("--patient-number", metavar="N")
    i.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    i.add_argument("--replace", action="store_true", help="re-pin: replace the patient's pinned key")
    i.set_defaults(func=not_yet)
    ls = s.add_parser("list", help="pinned trust certificates")
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(func=not_yet)
    rm = s.add_parser("remove", help="remove a pin")
    rm.add_argument("fingerprint")
    rm.add_argument("--yes", action="store_true")
    rm.set_defaults(func=not_yet)
