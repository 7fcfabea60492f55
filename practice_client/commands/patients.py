"""``patients import|list``: PMS master data (GDT or CSV); the list pages (``--limit``, ``--number``)."""

from __future__ import annotations

import argparse
from pathlib import Path

from practice_client.commands import print_json
from practice_client.commands.paging import Paging, add_limit_option, limit_of, more_line, shown
from practice_client.context import Context
from practice_client.core.patients import read_master_data
from practice_client.core.text import Text


def _import(args: argparse.Namespace) -> int:
    master = read_master_data(Path(args.file))  # validated completely before the store opens
    ctx = Context()
    try:
        count = ctx.store.upsert_patients(master.patients, master.source)
    finally:
        ctx.close()
    print(Text(f"{count} Patienten importiert", f"{count} patients imported"))
    return 0


def _list(args: argparse.Namespace) -> int:
    """One page of the master data in number order: a practice's thousands of patients are
    not read (and their sealed fields not opened) to show the first hundred."""
    page = Paging(limit_of(args), None, None)  # checked before anything is opened
    ctx = Context()
    try:
        rows = ctx.store.page_patients(number=args.number, limit=page.fetch)
        patients, total, more = shown(rows, page, lambda: ctx.store.count_patients(args.number))
    finally:
        ctx.close()
    if args.json:
        print_json({"patients": [
            {"patient_number": p.patient_number, "name": p.name, "birth_date": p.birth_date,
             "phone": p.phone} for p in patients
        ], "total": total, "more": more})
        return 0
    if not patients:
        print(Text("Keine Patienten", "no patients (practice-client patients import FILE)"))
    for p in patients:
        print(f"{p.patient_number:<12} {p.name} ({p.birth_date}) {p.phone or '-'}")
    if (hidden := more_line(len(patients), total, "--limit, --number", older=False)) is not None:
        print(hidden)
    return 0


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("patients", help="PMS patient master data")
    s = p.add_subparsers(dest="action", required=True)
    i = s.add_parser("import", help="import GDT (.gdt) or CSV (patient_number,name,birth_date,phone)")
    i.add_argument("file", metavar="FILE")
    i.set_defaults(func=_import)
    ls = s.add_parser("list", help="list patients")
    ls.add_argument("--json", action="store_true")
    add_limit_option(ls, "patients", "in number order")
    ls.add_argument("--number", default="", metavar="PREFIX", help="only patient numbers that start with PREFIX")
    ls.set_defaults(func=_list)
