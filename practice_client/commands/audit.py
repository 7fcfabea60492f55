"""``audit verify|export``: the hash-chained audit log."""

from __future__ import annotations

import argparse
import sys

from practice_client.context import Context
from practice_client.core.errors import InputError


def _verify(args: argparse.Namespace) -> int:
    ctx = Context()
    try:
        result = ctx.store.verify_audit()
    finally:
        ctx.close()
    if not result.ok:
        raise InputError(ctx.home.audit, f"audit log damaged: {result.problem}")
    print(f"Protokoll unverändert / audit log intact: {result.entries} entries")
    return 0


def _export(args: argparse.Namespace) -> int:
    ctx = Context()
    try:
        result = ctx.store.verify_audit()
        for line in ctx.store.audit.lines():
            sys.stdout.write(line.decode("utf-8"))
    finally:
        ctx.close()
    if not result.ok:
        print(f"practice-client: {ctx.home.audit}: warning: {result.problem}", file=sys.stderr)
        return 1
    return 0


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("audit", help="the hash-chained audit log")
    s = p.add_subparsers(dest="action", required=True)
    s.add_parser("verify", help="check the whole chain").set_defaults(func=_verify)
    s.add_parser("export", help="print the log as JSON lines").set_defaults(func=_export)
