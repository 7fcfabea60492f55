"""``demo`` and ``testbed``: parts of a source checkout, not of the installed program.

The product bundle (installer/practice-client.spec) leaves out the testbed - the reference
platform's web server (uvicorn, Starlette), its DNS server (dnslib), the simulated patient
- so a practice PC never carries a test server. Where it is missing, both commands still
exist and say where to run them instead of failing on an import.
"""

from __future__ import annotations

import argparse
import importlib.util
from types import ModuleType

from practice_client.core.errors import NotAvailable
from practice_client.core.text import Text

TESTBED_MODULES = ("practice_client.testbed", "uvicorn", "starlette", "dnslib")


def testbed_installed() -> bool:
    return all(importlib.util.find_spec(name) is not None for name in TESTBED_MODULES)


def _not_installed(args: argparse.Namespace) -> int:
    raise NotAvailable(Text(
        f"'{args.command}' gehört nicht zum installierten Programm: Demo und Testumgebung laufen aus "
        "einem Quellcode-Checkout (make demo)",
        f"'{args.command}' is not part of the installed program: the demo and the testbed run from a "
        "source checkout (make demo)",
    ))


class _Placeholders:
    """Registers ``demo`` and ``testbed`` as commands that only explain."""

    @staticmethod
    def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
        for name, text in (("demo", "end-to-end demo (source checkout only)"),
                           ("testbed", "reference platform and simulated patient (source checkout only)")):
            # no options of its own: every argument (--headless too) is taken as it comes
            p = sub.add_parser(name, help=text, add_help=False, prefix_chars="\x00")
            p.add_argument("rest", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
            p.set_defaults(func=_not_installed)


def modules() -> tuple[ModuleType | type[_Placeholders], ...]:
    """The command modules of ``demo`` and ``testbed``, or placeholders without the testbed."""
    if not testbed_installed():
        return (_Placeholders,)
    from practice_client.commands import demo, testbed

    return demo, testbed
