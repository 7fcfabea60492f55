"""``key export|backup|restore``: the practice's OpenPGP key."""

from __future__ import annotations

import argparse
import sys

from practice_client.commands import not_yet
from practice_client.context import Context
from practice_client.crypto.practice_key import export_public_key


def _export(args: argparse.Namespace) -> int:
    ctx = Context()
    try:
        sys.stdout.write(export_public_key(ctx))
    finally:
        ctx.close()
    return 0


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("key", help="the practice's OpenPGP key")
    s = p.add_subparsers(dest="action", required=True)
    s.add_parser("export", help="print the practice's public key (ASCII-armored)").set_defaults(func=_export)
    b = s.add_parser("backup", help="write an encrypted backup of the practice key")
    b.add_argument("file", metavar="FILE")
    b.add_argument("--passphrase-stdin", action="store_true",
                   help="read the backup passphrase from stdin instead of generating a recovery code")
    b.set_defaults(func=not_yet)
    r = s.add_parser("restore", help="restore the practice key from a backup")
    r.add_argument("file", metavar="FILE")
    r.add_argument("--passphrase-stdin", action="store_true")
    r.set_defaults(func=not_yet)
