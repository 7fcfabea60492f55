"""Sub-commands of ``practice-client``. Each module has ``register(subparsers)``
which adds its parser(s) with ``set_defaults(func=handler)``; a handler takes the
parsed arguments and returns the exit code. Errors are raised as
:class:`~practice_client.core.errors.PracticeClientError` and printed by cli.py.
"""

from __future__ import annotations

import json
import sys
from typing import Any


def print_json(obj: Any) -> None:
    """``--json`` output: exactly one JSON object on stdout."""
    json.dump(obj, sys.stdout, ensure_ascii=False, indent=2, sort_keys=True)
    sys.stdout.write("\n")
