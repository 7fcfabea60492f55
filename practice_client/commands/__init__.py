"""Sub-commands of ``practice-client``. Each module has ``register(subparsers)``
which adds its parser(s) with ``set_defaults(func=handler)``; a handler takes the
parsed arguments and returns the exit code. Errors are raised as
:class:`~practice_client.core.errors.PracticeClientError` and printed by cli.py.
"""

from __future__ import annotations

import contextlib
import json
import signal
import sys
import threading
from collections.abc import Iterator
from typing import Any


def print_json(obj: Any) -> None:
    """``--json`` output: exactly one JSON object on stdout."""
    json.dump(obj, sys.stdout, ensure_ascii=False, indent=2, sort_keys=True)
    sys.stdout.write("\n")


@contextlib.contextmanager
def stop_on_signals() -> Iterator[threading.Event]:
    """An event that SIGTERM or SIGINT (Ctrl-C) sets, for commands that serve in the
    foreground until stopped; the earlier handlers come back afterwards."""
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield stop
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
