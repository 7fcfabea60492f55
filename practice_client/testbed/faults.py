"""Fault injection and counters for the testbed platform.

Tests arm faults from their own thread while the server's event loop consumes
them, so every method takes the lock. Each fault is bounded (a count, a maximum
delay) so a forgotten fault can never hang a test run.

Route names: ``inbox``, ``decision``, ``upload.options``, ``upload.create``,
``upload.head``, ``upload.patch``, ``upload.delete``, ``document``, ``patient_key``,
``practice_key``; ``*`` matches every route.

Besides failures and delays, attacks of a hostile or broken platform on uploads: a
creation answered with ``Upload-Offset`` equal to the length (nothing was received), a
PATCH body damaged on the way (the checksum extension must catch it).
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass

ROUTES = frozenset(
    {
        "inbox", "decision", "upload.options", "upload.create", "upload.head", "upload.patch",
        "upload.delete", "document", "patient_key", "practice_key", "audit_checkpoint", "*",
    }
)
MAX_COUNT = 1000
MAX_DELAY = 60.0


@dataclass
class _Armed:
    count: int
    value: float


class Faults:
    """Faults the server injects into its next responses (thread-safe, bounded)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._failures: dict[str, _Armed] = {}
        self._delays: dict[str, _Armed] = {}
        self._drops: _Armed | None = None
        self._forged_offsets = 0
        self._corruptions = 0

    @staticmethod
    def _check(route: str, count: int) -> None:
        if route not in ROUTES:
            raise ValueError(f"unknown route {route!r}")
        if not 0 < count <= MAX_COUNT:
            raise ValueError(f"count must be 1..{MAX_COUNT}")

    def fail_next(self, route: str, count: int = 1, status: int = 503) -> None:
        """Answer the next ``count`` calls of ``route`` with ``status`` (a 5xx usually)."""
        self._check(route, count)
        if not 400 <= status <= 599:
            raise ValueError("status must be an error status")
        with self._lock:
            self._failures[route] = _Armed(count, status)

    def delay_next(self, route: str, seconds: float, count: int = 1) -> None:
        """Hold the next ``count`` responses of ``route`` back for ``seconds``."""
        self._check(route, count)
        if not 0 < seconds <= MAX_DELAY:
            raise ValueError(f"delay must be 0..{MAX_DELAY} s")
        with self._lock:
            self._delays[route] = _Armed(count, seconds)

    def drop_next_patch(self, after_bytes: int, count: int = 1) -> None:
        """Cut the connection of the next ``count`` PATCHes after ``after_bytes`` of their
        body (the bytes up to there are kept, as a real server would). A PATCH with a
        shorter body is not cut but still counts."""
        self._check("upload.patch", count)
        if after_bytes < 0:
            raise ValueError("after_bytes must be >= 0")
        with self._lock:
            self._drops = _Armed(count, after_bytes)

    def forge_next_create_offsets(self, count: int = 1) -> None:
        """Answer the next ``count`` creations with ``Upload-Offset`` = ``Upload-Length``
        ("the upload is complete") although not a byte was received."""
        self._check("upload.create", count)
        with self._lock:
            self._forged_offsets = count

    def corrupt_next_patches(self, count: int = 1) -> None:
        """Flip a byte of the next ``count`` PATCH bodies as they arrive."""
        self._check("upload.patch", count)
        with self._lock:
            self._corruptions = count

    def take_forged_offset(self) -> bool:
        with self._lock:
            forged, self._forged_offsets = self._forged_offsets > 0, max(0, self._forged_offsets - 1)
        return forged

    def take_corruption(self) -> bool:
        with self._lock:
            corrupt, self._corruptions = self._corruptions > 0, max(0, self._corruptions - 1)
        return corrupt

    def clear(self) -> None:
        with self._lock:
            self._failures.clear()
            self._delays.clear()
            self._drops = None
            self._forged_offsets = self._corruptions = 0

    @staticmethod
    def _take(table: dict[str, _Armed], route: str) -> float | None:
        for key in (route, "*"):
            armed = table.get(key)
            if armed is not None:
                armed.count -= 1
                if armed.count <= 0:
                    del table[key]
                return armed.value
        return None

    def take_failure(self, route: str) -> int | None:
        with self._lock:
            status = self._take(self._failures, route)
        return None if status is None else int(status)

    def take_delay(self, route: str) -> float:
        with self._lock:
            return self._take(self._delays, route) or 0.0

    def take_drop(self) -> int | None:
        with self._lock:
            armed = self._drops
            if armed is None:
                return None
            armed.count -= 1
            if armed.count <= 0:
                self._drops = None
            return int(armed.value)


class Stats:
    """What the server saw: calls per route and upload body bytes it received."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._calls: Counter[str] = Counter()
        self._patch_bytes = 0

    def count_call(self, route: str) -> None:
        with self._lock:
            self._calls[route] += 1

    def add_patch_bytes(self, nbytes: int) -> None:
        with self._lock:
            self._patch_bytes += nbytes

    def calls(self, route: str) -> int:
        with self._lock:
            return self._calls[route]

    @property
    def patch_bytes(self) -> int:
        with self._lock:
            return self._patch_bytes

    def reset(self) -> None:
        with self._lock:
            self._calls.clear()
            self._patch_bytes = 0
