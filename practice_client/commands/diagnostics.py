"""``diagnostics export FILE``: a zip for the practice's IT provider (no patient data, no secrets)."""

from __future__ import annotations

import argparse
from pathlib import Path

from practice_client.context import Context


def _export(args: argparse.Namespace) -> int:
    from practice_client.diagnostics import export_diagnostics

    ctx = Context()
    try:
        report = export_diagnostics(ctx, Path(args.file))
    finally:
        ctx.close()
    print(f"Diagnose geschrieben / diagnostics written: {report.path} "
          f"({report.log_lines} Protokollzeilen / log lines, {report.redactions} Werte entfernt / values removed)")
    return 0


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("diagnostics", help="support: versions, settings, state and recent log lines for IT")
    s = p.add_subparsers(dest="action", required=True)
    e = s.add_parser("export", help="write a zip without patient data or secrets, for the IT provider")
    e.add_argument("file", metavar="FILE.zip")
    e.set_defaults(func=_export)
