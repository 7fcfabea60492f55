"""The audit log: append-only, hash-chained JSON lines.

Each entry holds ``prev``, the SHA-256 of the previous line's bytes, and ``seq``,
its position. Editing, removing or reordering a line breaks the chain; removing
lines at the end is caught by the *head* (seq and hash of the last entry) that the
store keeps in its database in the same transaction as the state change.

Entries never hold patient data: identifiers (request id, document id, key
fingerprints, patient numbers) and event names only.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from practice_client.core.errors import InputError

GENESIS = "0" * 64


def line_hash(line: bytes) -> str:
    return hashlib.sha256(line.rstrip(b"\n")).hexdigest()


@dataclass(frozen=True)
class AuditHead:
    """The last entry: the store keeps it to notice lines cut from the end."""

    seq: int
    digest: str

    def encode(self) -> str:
        return f"{self.seq}:{self.digest}"

    @classmethod
    def decode(cls, text: str) -> AuditHead:
        seq, digest = text.split(":", 1)
        return cls(int(seq), digest)


EMPTY_HEAD = AuditHead(0, GENESIS)


@dataclass(frozen=True)
class AuditEntry:
    seq: int
    time: str
    event: str
    details: Mapping[str, Any]
    prev: str

    def to_line(self) -> bytes:
        record = {
            "seq": self.seq,
            "time": self.time,
            "event": self.event,
            "details": dict(self.details),
            "prev": self.prev,
        }
        return json.dumps(record, sort_keys=True, ensure_ascii=False).encode("utf-8") + b"\n"


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    entries: int
    problem: str = ""


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class AuditLog:
    """The JSON-lines file. Callers go through the store, which serialises writers."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def make_entry(self, head: AuditHead, event: str, details: Mapping[str, Any]) -> AuditEntry:
        return AuditEntry(head.seq + 1, now_iso(), event, dict(details), head.digest)

    def append(self, entry: AuditEntry) -> AuditHead:
        """Append one line durably and return the new head."""
        line = entry.to_line()
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, line)
            os.fsync(fd)
        finally:
            os.close(fd)
        return AuditHead(entry.seq, line_hash(line))

    def lines(self) -> Iterator[bytes]:
        try:
            with self.path.open("rb") as handle:
                yield from handle
        except FileNotFoundError:
            return

    def entries(self) -> Iterator[dict[str, Any]]:
        for number, line in enumerate(self.lines(), 1):
            try:
                record = json.loads(line)
            except ValueError:
                raise InputError(self.path, f"line {number} is not valid JSON") from None
            if not isinstance(record, dict):
                raise InputError(self.path, f"line {number} is not a JSON object")
            yield record

    def last(self) -> tuple[AuditHead, bytes | None]:
        """Head as the file shows it, and the last raw line."""
        head, last_line = EMPTY_HEAD, None
        for line in self.lines():
            last_line = line
        if last_line is not None:
            record = json.loads(last_line)
            head = AuditHead(int(record["seq"]), line_hash(last_line))
        return head, last_line

    def verify(self, expected_head: AuditHead | None = None) -> VerifyResult:
        """Check the whole chain (and, if given, that it ends at ``expected_head``)."""
        prev, count = GENESIS, 0
        for number, line in enumerate(self.lines(), 1):
            try:
                record = json.loads(line)
                seq, link = int(record["seq"]), str(record["prev"])
                str(record["event"])
            except (ValueError, KeyError, TypeError):
                return VerifyResult(False, count, f"line {number} is malformed")
            if not line.endswith(b"\n"):
                return VerifyResult(False, count, f"line {number} is truncated")
            if seq != number:
                problem = f"line {number} has seq {seq}: removed or reordered"
                return VerifyResult(False, count, problem)
            if link != prev:
                problem = f"line {number} does not chain to line {number - 1}: edited, removed or reordered"
                return VerifyResult(False, count, problem)
            prev, count = line_hash(line), count + 1
        if expected_head is not None and (count, prev) != (expected_head.seq, expected_head.digest):
            return VerifyResult(
                False, count,
                f"the log ends at entry {count} but the database recorded entry "
                f"{expected_head.seq}: lines were removed or replaced",
            )
        return VerifyResult(True, count)
