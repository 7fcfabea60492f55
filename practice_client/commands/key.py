"""``key export|backup|restore``: the practice's OpenPGP key."""

from __future__ import annotations

import argparse
import getpass
import sys
from pathlib import Path

from practice_client.context import Context
from practice_client.core.errors import InputError
from practice_client.crypto.backup import create_backup, generate_recovery_code, restore_backup
from practice_client.crypto.gpg import group_fingerprint
from practice_client.crypto.practice_key import export_public_key


def _export(args: argparse.Namespace) -> int:
    ctx = Context()
    try:
        sys.stdout.write(export_public_key(ctx))
    finally:
        ctx.close()
    return 0


def _read_passphrase(args: argparse.Namespace, prompt: str) -> str:
    """From stdin (one line) with --passphrase-stdin, else from the terminal."""
    if args.passphrase_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    if not sys.stdin.isatty():
        raise InputError(args.file, "no terminal to ask for the passphrase: use --passphrase-stdin")
    return getpass.getpass(prompt)


def _backup(args: argparse.Namespace) -> int:
    generated = not args.passphrase_stdin
    passphrase = generate_recovery_code() if generated else _read_passphrase(args, "")
    ctx = Context()
    try:
        fingerprint = create_backup(ctx, Path(args.file), passphrase)
    finally:
        ctx.close()
    print(f"Sicherung geschrieben / backup written: {args.file} (key {group_fingerprint(fingerprint)})")
    if generated:
        print("Wiederherstellungscode - jetzt aufschreiben, er wird nicht wieder angezeigt /")
        print("recovery code - write it down now, it is not shown again:")
        print(f"    {passphrase}")
    return 0


def _restore(args: argparse.Namespace) -> int:
    passphrase = _read_passphrase(args, "Wiederherstellungscode / recovery passphrase: ")
    ctx = Context()
    try:
        fingerprint = restore_backup(ctx, Path(args.file), passphrase)
    finally:
        ctx.close()
    print(f"Praxisschlüssel wiederhergestellt / practice key restored: {group_fingerprint(fingerprint)}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("key", help="the practice's OpenPGP key")
    s = p.add_subparsers(dest="action", required=True)
    s.add_parser("export", help="print the practice's public key (ASCII-armored)").set_defaults(func=_export)
    b = s.add_parser("backup", help="write an encrypted backup of the practice key")
    b.add_argument("file", metavar="FILE")
    b.add_argument("--passphrase-stdin", action="store_true",
                   help="read the backup passphrase from stdin instead of generating a recovery code")
    b.set_defaults(func=_backup)
    r = s.add_parser("restore", help="restore the practice key from a backup")
    r.add_argument("file", metavar="FILE")
    r.add_argument("--passphrase-stdin", action="store_true",
                   help="read the recovery passphrase from stdin instead of asking")
    r.set_defaults(func=_restore)
