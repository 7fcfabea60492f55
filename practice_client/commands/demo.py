"""``practice-client demo``: local platform + simulated patient + this client, end to end."""

from __future__ import annotations

import argparse


def _run(args: argparse.Namespace) -> int:
    if args.headless:
        from practice_client.demo import run_headless
        from practice_client.demo_service import run_service_act

        # the second act: one practice service, two workstations
        return run_headless(lambda line: print(line, flush=True), second_act=run_service_act)
    import importlib

    try:  # the GUI's own module runs the same scenario (practice_client.demo) with the window
        gui_demo = importlib.import_module("practice_client.gui.demo")
    except ImportError:
        from practice_client.core.errors import NotAvailable

        raise NotAvailable("the GUI demo is not available in this build: use --headless") from None
    return int(gui_demo.run_gui_demo())


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("demo", help="end-to-end demo on the embedded local platform")
    p.add_argument("--headless", action="store_true", help="no GUI: print each step and exit")
    p.set_defaults(func=_run)
