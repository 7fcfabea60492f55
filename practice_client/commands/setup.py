"""``practice-client setup``: configure the client and create the practice key."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from practice_client.context import Context
from practice_client.core.text import Text
from practice_client.crypto.gpg import group_fingerprint
from practice_client.provision import SetupParams, provision


def _run(args: argparse.Namespace) -> int:
    token = sys.stdin.readline().strip() if args.token_stdin else None
    params = SetupParams(
        server_url=args.server, practice_id=args.practice_id, platform_domain=args.platform_domain,
        ident_key_file=Path(args.ident_key), dns_server=args.dns_server or "",
        ca_file=Path(args.ca_file) if args.ca_file else None,
        export_dir=Path(args.export_dir) if args.export_dir else None,
        token=token, offline=args.offline, practice_name=args.practice_name,
        key_algorithm=args.key_algorithm,
    )
    ctx = Context()
    try:
        result = provision(ctx, params)
    finally:
        ctx.close()
    state = "erzeugt / created" if result.key_created else "vorhanden / kept"
    print(f"Praxisschlüssel {state}: {group_fingerprint(result.practice_key_fingerprint)}")
    print(f"Identitätsschlüssel der Plattform: {group_fingerprint(result.ident_key_fingerprint)}")
    if result.registered:
        print(Text("Praxisschlüssel bei der Plattform registriert", "practice key registered"))
    if result.key_created:
        print("Bitte jetzt eine Sicherung anlegen: practice-client key backup FILE")
    return 0


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("setup", help="configure the client and create the practice key")
    p.add_argument("--server", required=True, metavar="URL")
    p.add_argument("--practice-id", required=True, metavar="ID")
    p.add_argument("--platform-domain", required=True, metavar="DOMAIN")
    p.add_argument("--ident-key", required=True, metavar="FILE",
                   help="the platform's identity-verification public key")
    p.add_argument("--dns-server", metavar="HOST:PORT")
    p.add_argument("--ca-file", metavar="PEM")
    p.add_argument("--export-dir", metavar="DIR")
    p.add_argument("--token-stdin", action="store_true", help="read the platform token from stdin")
    p.add_argument("--offline", action="store_true", help="do not contact the platform")
    p.add_argument("--practice-name", default="Arztpraxis", help="name in the practice key's user id")
    p.add_argument("--key-algorithm", choices=("ed25519", "rsa3072"), default="ed25519")
    p.set_defaults(func=_run)
