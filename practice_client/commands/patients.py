"""``patients import FILE``: PMS master data (GDT or CSV)."""

from __future__ import annotations

import argparse

from practice_client.commands import not_yet


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("patients", help="PMS patient master data")
    s = p.add_subparsers(dest="action", required=True)
    i = s.add_parser("import", help="import GDT (.gdt) or CSV (patient_number,name,birth_date,phone)")
    i.add_argument("file", metavar="FILE")
    i.set_defaults(func=not_yet)
    ls = s.add_parser("list", help="list patients")
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(func=not_yet)
