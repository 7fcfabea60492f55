"""Waiting in tests: poll a condition with a deadline, never a fixed sleep.

The pause between polls is an ``Event.wait`` (nothing sets it): the same as a sleep for
the caller, but the suite has one place that decides how tests wait.
"""

from __future__ import annotations

import socket
import subprocess
import threading
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def poll(predicate: Callable[[], T], timeout: float, interval: float = 0.02) -> T | None:
    """The first truthy value of ``predicate()`` within ``timeout`` seconds, else None
    (for callers to whom "not in time" is an answer). ``interval=0`` polls without pause
    (to catch a short-lived state)."""
    deadline = time.monotonic() + timeout
    pause = threading.Event()
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            return None
        if interval:
            pause.wait(interval)


def wait_for(predicate: Callable[[], T], timeout: float = 60.0, what: str = "condition",
             interval: float = 0.02) -> T:
    """The first truthy value of ``predicate()``; AssertionError naming ``what`` when the
    deadline passes first."""
    value = poll(predicate, timeout, interval)
    if not value:
        raise AssertionError(f"timed out waiting for {what}")
    return value


def wait_listening(port: int, process: subprocess.Popen[bytes], what: str, timeout: float = 20.0,
                   output: Callable[[], str] = lambda: "") -> None:
    """Wait until the server ``process`` accepts connections on loopback ``port``;
    RuntimeError with ``output()`` (its last words) when it exits first, or killed and
    RuntimeError when the deadline passes."""

    def accepting() -> bool:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited: {output()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            return False

    if not poll(accepting, timeout, interval=0.05):
        process.kill()
        raise RuntimeError(f"{what} did not start listening")
