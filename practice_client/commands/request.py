"""``request verify|list|accept|decline``: incoming patient requests."""

from __future__ import annotations

import argparse

from practice_client.commands import not_yet


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("request", help="incoming patient document requests")
    s = p.add_subparsers(dest="action", required=True)
    v = s.add_parser("verify", help="verify a request message (exit 0 verified, 3 needs review, 1 rejected)")
    v.add_argument("file", metavar="FILE.eml")
    v.add_argument("--json", action="store_true")
    v.set_defaults(func=not_yet)
    ls = s.add_parser("list", help="received requests")
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(func=not_yet)
    a = s.add_parser("accept", help="accept a request")
    a.add_argument("request_id", metavar="ID")
    a.add_argument("--override", action="store_true", help="accept a request that is not verified")
    a.add_argument("--reason", help="why (required with --override)")
    a.set_defaults(func=not_yet)
    d = s.add_parser("decline", help="decline a request")
    d.add_argument("request_id", metavar="ID")
    d.add_argument("--reason", required=True)
    d.set_defaults(func=not_yet)
    f = s.add_parser("fetch", help="collect new requests once from every configured source")
    f.set_defaults(func=not_yet)
