"""The ``practice-client`` command: parse, dispatch, and turn errors into one line.

This is the one place at the edge where typed errors become messages and exit
codes (1 error, 2 usage / not available, 3 needs review). Unexpected exceptions
are logged with their traceback to the log file and reported as one line.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence

from practice_client import __version__
from practice_client.commands import (
    audit,
    delivery,
    diagnostics,
    gui,
    key,
    patients,
    request,
    service,
    setup,
    shares,
    source_only,
    trust,
)
from practice_client.core.errors import PracticeClientError
from practice_client.core.logs import DEBUG_ENV

log = logging.getLogger(__name__)

# demo and testbed only where the testbed is installed (a source checkout): commands/source_only.py
MODULES = (gui, delivery, shares, setup, key, patients, trust, request, audit, diagnostics, service,
           *source_only.modules())


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="practice-client",
        description="Practice Client: verify patient requests, deliver documents end to end.",
    )
    parser.add_argument("--version", action="version", version=f"practice-client {__version__}")
    parser.add_argument("--debug", action="store_true",
                        help="write DEBUG lines to the log (identifiers only; unless the policy locks debug_logging)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in MODULES:
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.debug:  # read by every Context of this process and of the processes it starts
        os.environ[DEBUG_ENV] = "1"
    if not getattr(args, "func", None):
        if args.command is None:  # plain `practice-client`: the desktop app
            args = parser.parse_args(["gui", *([] if argv is None else argv)])
        else:
            parser.parse_args([args.command, "--help"])
    args.command_name = " ".join(
        a for a in (argv if argv is not None else sys.argv[1:]) if not a.startswith("-")
    )[:60]
    try:
        return int(args.func(args))
    except PracticeClientError as exc:
        print(f"practice-client: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("practice-client: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 1
    except Exception as exc:  # the edge: never a traceback on the terminal
        log.exception("unexpected error in %s", args.command)
        print(
            f"practice-client: internal error ({type(exc).__name__}); details are in the log file",
            file=sys.stderr,
        )
        return 1


def gui_main() -> int:
    """Entry point of the windowed executable."""
    return main(["gui", *sys.argv[1:]])


if __name__ == "__main__":
    sys.exit(main())
