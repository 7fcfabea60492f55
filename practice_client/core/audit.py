"""The audit log: append-only JSON lines, chained under a key from the OS keyring.

Each entry holds ``seq`` (its position) and ``prev``, the *link* of the line before
it: ``HMAC-SHA256(audit key, that line's bytes)``. Editing, removing or reordering a
line breaks the chain, and without the key (it lives in the keyring, never on disk)
nobody can compute the links of a rewritten chain. Lines cut from the end are caught
by the *head* the store keeps in its database in the same transaction as the change:
the last entry's seq and link, authenticated by a tag under the same key - so the
head cannot be "fixed up" after a cut either, not even with a link copied from the
file (the tag is computed for a different purpose than any link). Rolling the whole
folder back to an older copy keeps all of this consistent; that is what the signed
checkpoints held by the platform are for (:mod:`practice_client.crypto.checkpoint`).

Entries written by the first releases (``prev`` = plain SHA-256 of the line before,
no ``chain`` field) are still read: the first keyed entry links to the last of them,
so they cannot be rewritten either once a keyed entry follows. After a keyed entry a
plain one is refused.

The file is read from the end or from a known offset, never as a whole, except by a
full verification (``audit verify --full``): opening a store, appending and checking
only what was added since the last verification cost the same with 10 or 10 million
lines.

Entries never hold patient data: identifiers (request id, document id, key
fingerprints, patient numbers) and event names only.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from practice_client.core.errors import InputError

GENESIS = "0" * 64
KEYED = "hmac-sha256"  # the ``chain`` field of a keyed entry


def legacy_link(line: bytes) -> str:
    """The link of an entry of the first releases: SHA-256 of its bytes."""
    return hashlib.sha256(line.rstrip(b"\n")).hexdigest()


class ChainKey:
    """The audit key (32 random bytes from the keyring) and what is computed with it.

    Every purpose has its own label, so a value computed for one (a line's link) is
    never valid for another (the head's tag, the verified prefix's tag)."""

    def __init__(self, key: bytes) -> None:
        if len(key) < 32:
            raise ValueError("the audit key must have at least 32 bytes")
        self._key = key

    def _mac(self, label: bytes, data: bytes) -> str:
        return hmac.new(self._key, label + b"\0" + data, hashlib.sha256).hexdigest()

    def link(self, line: bytes) -> str:
        return self._mac(b"audit-link", line.rstrip(b"\n"))

    def tag(self, purpose: str, text: str) -> str:
        return self._mac(f"audit-{purpose}".encode("ascii"), text.encode("ascii"))

    def valid(self, purpose: str, text: str, tag: str) -> bool:
        return hmac.compare_digest(self.tag(purpose, text), tag)


@dataclass(frozen=True)
class AuditHead:
    """The last entry: seq and link, with the tag that proves the store wrote it."""

    seq: int
    digest: str
    tag: str = ""  # "" only in a database of the first releases (adopted on open)

    def text(self) -> str:
        return f"{self.seq}:{self.digest}"

    def encode(self) -> str:
        return f"{self.text()}:{self.tag}" if self.tag else self.text()

    @classmethod
    def decode(cls, text: str) -> AuditHead:
        seq, digest, *tag = text.split(":", 2)
        return cls(int(seq), digest, tag[0] if tag else "")


EMPTY_HEAD = AuditHead(0, GENESIS)


@dataclass(frozen=True)
class Position:
    """Where one entry lies in the file, and its link: a place to continue from."""

    seq: int
    offset: int
    end: int
    digest: str

    def text(self) -> str:
        return f"{self.seq}:{self.offset}:{self.end}:{self.digest}"

    @classmethod
    def decode(cls, text: str) -> Position:
        seq, offset, end, digest = text.split(":")
        return cls(int(seq), int(offset), int(end), digest)


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
            "chain": KEYED,
        }
        return json.dumps(record, sort_keys=True, ensure_ascii=False).encode("utf-8") + b"\n"


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    entries: int
    problem: str = ""
    position: Position | None = None  # the last entry checked, when ``ok``
    full: bool = True  # False: only what was added since the last verification (and its seam)
    checked: int = 0  # lines read this time


def now_iso() -> str:
    """``2026-12-01T09:30:00.000000Z`` (isoformat: a thirtieth of strftime's cost, and this
    runs twice in every state change)."""
    return datetime.now(UTC).isoformat(timespec="microseconds")[:-6] + "Z"


def terms_of(details: Mapping[str, Any]) -> set[str]:
    """The identifiers an entry can be found by - ids, fingerprints, patient numbers,
    digests: the text values of its details (and lists of them) that hold a digit and no
    space, lower case. Words ("matched", "folder") would only fill the index."""
    found: set[str] = set()
    for value in details.values():
        for item in value if isinstance(value, list) else [value]:
            if (isinstance(item, str) and 0 < len(item) <= 80 and " " not in item
                    and any(c.isdigit() for c in item)):
                found.add(item.casefold())
    return found


class AuditLog:
    """The JSON-lines file. Callers go through the store, which serialises writers."""

    def __init__(self, path: Path, key: ChainKey, new_key: bool = False) -> None:
        self.path = path
        self.key = key
        self.new_key = new_key  # created by this open: no keyed entry can exist yet

    def make_entry(self, head: AuditHead, event: str, details: Mapping[str, Any]) -> AuditEntry:
        return AuditEntry(head.seq + 1, now_iso(), event, dict(details), head.digest)

    def tagged(self, head: AuditHead) -> AuditHead:
        return AuditHead(head.seq, head.digest, self.key.tag("head", head.text()))

    def head_is_authentic(self, head: AuditHead) -> bool:
        return bool(head.tag) and self.key.valid("head", head.text(), head.tag)

    # -- writing ------------------------------------------------------------------------

    def append(self, lines: Sequence[bytes]) -> None:
        """Append whole lines durably (one write, one fsync)."""
        data = b"".join(lines)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
        finally:
            os.close(fd)

    def truncate(self, size: int) -> None:
        """Cut a torn, never committed last write (a crash in the middle of a line)."""
        fd = os.open(self.path, os.O_WRONLY)
        try:
            os.ftruncate(fd, size)
            os.fsync(fd)
        finally:
            os.close(fd)

    # -- reading ------------------------------------------------------------------------

    def size(self) -> int:
        try:
            return self.path.stat().st_size
        except FileNotFoundError:
            return 0

    def read(self, offset: int, end: int) -> bytes:
        try:
            with self.path.open("rb") as handle:
                handle.seek(offset)
                return handle.read(max(0, end - offset))
        except FileNotFoundError:
            return b""

    def lines_from(self, offset: int = 0) -> Iterator[tuple[int, bytes]]:
        """(offset, line) from ``offset`` to the end; the last may lack its newline."""
        try:
            handle = self.path.open("rb")
        except FileNotFoundError:
            return
        with handle:
            handle.seek(offset)
            position = offset
            for line in handle:
                yield position, line
                position += len(line)

    def lines(self) -> Iterator[bytes]:
        for _offset, line in self.lines_from(0):
            yield line

    def entries(self) -> Iterator[dict[str, Any]]:
        for number, line in enumerate(self.lines(), 1):
            yield parse_line(self.path, number, line)

    # -- verifying ----------------------------------------------------------------------

    def verify(self, head: AuditHead, start: Position | None = None) -> VerifyResult:
        """Check the chain up to ``head`` - all of it, or (``start``) only what follows a
        verified position, after checking that the line there is still the same.

        Lines after the head are not judged here: they are a newer transaction still
        being committed, or a crash's leftover that the store adopts when it opens."""
        full = start is None
        seq, previous, keyed, pos, last = 0, GENESIS, False, 0, None
        if start is not None:
            if self.key.link(self.read(start.offset, start.end)) != start.digest:
                return VerifyResult(False, start.seq, f"entry {start.seq} was changed after it was verified",
                                    full=False)
            seq, previous, keyed, pos, last = start.seq, start.digest, True, start.end, start
        checked = 0
        for offset, line in self.lines_from(pos):
            if seq >= head.seq:
                break
            number = seq + 1
            checked += 1
            problem, keyed_line = self._check_line(number, line, previous, keyed)
            if problem:
                return VerifyResult(False, seq, problem, full=full, checked=checked)
            keyed = keyed or keyed_line
            previous = self.key.link(line) if keyed_line else legacy_link(line)
            # a place to continue from next time: keyed lines only (a plain one is checked in full)
            last = Position(number, offset, offset + len(line), previous) if keyed_line else None
            seq = number
        if (seq, previous) != (head.seq, head.digest):
            return VerifyResult(
                False, seq,
                f"the log ends at entry {seq} but the database recorded entry {head.seq}: "
                "lines were removed or replaced", full=full, checked=checked,
            )
        if head.seq and not self.head_is_authentic(head):
            return VerifyResult(
                False, seq,
                "the database's record of the last entry is not authentic (altered, or the audit key "
                "in the keyring is not this log's)", full=full, checked=checked,
            )
        return VerifyResult(True, seq, position=last, full=full, checked=checked)

    @staticmethod
    def _check_line(number: int, line: bytes, previous: str, keyed: bool) -> tuple[str, bool]:
        """("", is keyed) for a sound line, else (the problem, _)."""
        try:
            record = json.loads(line)
            seq, link, chain = int(record["seq"]), str(record["prev"]), record.get("chain")
            str(record["event"])
        except (ValueError, KeyError, TypeError, AttributeError):
            return f"line {number} is malformed", False
        if not line.endswith(b"\n"):
            return f"line {number} is truncated", False
        if seq != number:
            return f"line {number} has seq {seq}: removed or reordered", False
        if chain not in (None, KEYED) or (keyed and chain != KEYED):
            return f"line {number} is not keyed although the lines before it are: rewritten", False
        if link != previous:
            return f"line {number} does not chain to line {number - 1}: edited, removed or reordered", False
        return "", chain == KEYED


def parse_line(path: Path, number: int, line: bytes) -> dict[str, Any]:
    """One entry as a dict; a line that is not a JSON object is a one-line error."""
    try:
        record = json.loads(line)
    except ValueError:
        raise InputError(path, f"line {number} is not valid JSON") from None
    if not isinstance(record, dict):
        raise InputError(path, f"line {number} is not a JSON object")
    return record
