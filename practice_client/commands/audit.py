"""``audit verify|export``: the keyed, hash-chained audit log."""

from __future__ import annotations

import argparse
import sys

from practice_client.context import Context
from practice_client.core.errors import InputError


def _verify(args: argparse.Namespace) -> int:
    """Only what was added since the last verification by default (its cost does not
    grow with the log), every line with ``--full``; ``--against-platform`` also compares
    the log with the newest checkpoint the platform holds (a rolled-back folder)."""
    ctx = Context()
    try:
        result = ctx.store.verify_audit(full=args.full)
        if result.ok and args.against_platform:
            from practice_client.crypto.checkpoint import verify_against_platform

            anchored = verify_against_platform(ctx)
        else:
            anchored = None
    finally:
        ctx.close()
    if not result.ok:
        raise InputError(ctx.home.audit, f"audit log damaged: {result.problem}")
    scope = "alle / all" if result.full else f"{result.checked} neu geprüft / newly checked"
    print(f"Protokoll unverändert / audit log intact: {result.entries} entries ({scope})")
    if anchored is not None:
        print(anchored)
    return 0


def _export(args: argparse.Namespace) -> int:
    ctx = Context()
    try:
        result = ctx.store.verify_audit(full=True)
        for line in ctx.store.audit.lines():
            sys.stdout.write(line.decode("utf-8"))
    finally:
        ctx.close()
    if not result.ok:
        print(f"practice-client: {ctx.home.audit}: warning: {result.problem}", file=sys.stderr)
        return 1
    return 0


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("audit", help="the keyed, hash-chained audit log")
    s = p.add_subparsers(dest="action", required=True)
    v = s.add_parser("verify", help="check the chain (what is new since the last check; --full: every line)")
    v.add_argument("--full", action="store_true", help="check every line, not only those added since the last check")
    v.add_argument("--against-platform", action="store_true",
                   help="also compare with the newest signed checkpoint the platform holds (a rolled-back folder)")
    v.set_defaults(func=_verify)
    s.add_parser("export", help="print the log as JSON lines (checked in full)").set_defaults(func=_export)
