"""Reading gpg's output without trusting it to be well-formed or UTF-8.

gpg repeats text it does not control in its output: user ids (in ``GOODSIG``/``BADSIG``
status lines, in log lines, in key listings), notation values (Sequoia and OpenPGP.js
put raw binary salt into every signature), literal file names. That text may be any
bytes. Two rules follow:

- **decoding cannot fail**: python-gnupg decodes gpg's streams with the encoding it is
  given; :data:`CODEC` is UTF-8 that encodes strictly (passphrases and inputs are the
  same bytes as with plain UTF-8) and decodes with U+FFFD replacement, so no reader
  thread can die on a byte;
- **lines are split on ``\\n`` only**: ``str.splitlines()`` also splits on U+2028, U+0085
  and friends, which a user id can carry, so a crafted user id could otherwise start a
  line of its own that reads like ``[GNUPG:] VALIDSIG ...``. Status lines and key
  listings are parsed here, by exact keyword and exact field position;
  python-gnupg's own parse only fills attributes nobody judges by, and its handlers are
  wrapped (:func:`tolerant_results`) so that a malformed line it chokes on is ignored
  instead of killing its reader thread (a thread that dies leaves ``stderr`` unset,
  which turns a good signature into "no signature" and prints a traceback).
"""

from __future__ import annotations

import codecs
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import gnupg

if TYPE_CHECKING:
    from collections.abc import Buffer  # Python 3.12+; annotations only

log = logging.getLogger(__name__)

CODEC = "practice_client_gpg"
STATUS_PREFIX = "[GNUPG:] "
_KEYWORD = re.compile(r"[A-Z][A-Z0-9_]*\Z")
_HEX_ESCAPE = re.compile(rb"\\x([0-9a-fA-F]{2})")


# -- the codec -------------------------------------------------------------------------


def _decode(data: Buffer, errors: str = "strict", /) -> tuple[str, int]:
    return codecs.utf_8_decode(data, "replace", True)


class _StreamReader(codecs.StreamReader):
    def decode(self, data: bytes, errors: str = "strict") -> tuple[str, int]:
        # final=False: a sequence cut at a read boundary waits for its next bytes
        return codecs.utf_8_decode(data, "replace", False)


class _IncrementalDecoder(codecs.BufferedIncrementalDecoder):
    def _buffer_decode(self, data: bytes, errors: str, final: bool) -> tuple[str, int]:  # type: ignore[override]
        return codecs.utf_8_decode(data, "replace", final)


def _search(name: str) -> codecs.CodecInfo | None:
    if name != CODEC:
        return None
    utf8 = codecs.lookup("utf-8")
    return codecs.CodecInfo(
        name=CODEC, encode=utf8.encode, decode=_decode,
        incrementalencoder=utf8.incrementalencoder, incrementaldecoder=_IncrementalDecoder,
        streamreader=_StreamReader, streamwriter=utf8.streamwriter,
    )


codecs.register(_search)


# -- status lines -------------------------------------------------------------------------


@dataclass(frozen=True)
class Status:
    """One ``[GNUPG:] KEYWORD arg arg ...`` line: the keyword and its space-separated fields."""

    keyword: str
    args: tuple[str, ...]


def status_lines(stderr: str) -> list[Status]:
    """gpg's status lines in ``stderr`` (status and log lines share it: --status-fd 2).

    A line is a status line only when it starts with the exact prefix and a well-formed
    keyword; everything else (log lines, damaged lines) is ignored, never guessed at."""
    found = []
    for line in stderr.split("\n"):
        if not line.startswith(STATUS_PREFIX):
            continue
        fields = line[len(STATUS_PREFIX):].removesuffix("\r").split(" ")
        if _KEYWORD.match(fields[0]):
            found.append(Status(fields[0], tuple(fields[1:])))
    return found


def statuses_of(result: object) -> list[Status]:
    """The status lines of a python-gnupg result (none when its reader never finished)."""
    stderr = getattr(result, "stderr", "")
    return status_lines(stderr if isinstance(stderr, str) else "")


def keywords(statuses: list[Status]) -> list[str]:
    return [s.keyword for s in statuses]


def only(statuses: list[Status], keyword: str) -> list[Status]:
    return [s for s in statuses if s.keyword == keyword]


# -- key listings (--with-colons) -----------------------------------------------------------


@dataclass(frozen=True)
class ColonRecord:
    """One line of a ``--with-colons`` listing, its fields decoded (user ids unescaped)."""

    kind: str
    fields: tuple[str, ...]

    def field(self, index: int) -> str:
        return self.fields[index] if index < len(self.fields) else ""


@dataclass
class ListedKey:
    """A primary key and what belongs to it, as listed."""

    primary: ColonRecord
    fingerprint: str = ""
    uids: list[str] = field(default_factory=list)
    subkeys: list[tuple[ColonRecord, str]] = field(default_factory=list)  # (sub/ssb record, its fingerprint)


def _unescape(raw: bytes) -> str:
    """gpg escapes ':' and control characters in colon listings as ``\\xNN``."""
    return _HEX_ESCAPE.sub(lambda m: bytes([int(m.group(1), 16)]), raw).decode("utf-8", "replace")


def colon_listing(data: bytes) -> list[ListedKey]:
    """Parse gpg's ``--with-colons`` key listing from its raw bytes (split on b"\\n" only)."""
    keys: list[ListedKey] = []
    current: ListedKey | None = None
    in_subkey = False
    for raw in data.split(b"\n"):
        fields = tuple(_unescape(f) for f in raw.removesuffix(b"\r").split(b":"))
        record = ColonRecord(fields[0], fields)
        if record.kind in ("pub", "sec"):
            current = ListedKey(record)
            keys.append(current)
            in_subkey = False
        elif current is None:
            continue
        elif record.kind in ("sub", "ssb"):
            current.subkeys.append((record, ""))
            in_subkey = True
        elif record.kind == "fpr":
            fpr = record.field(9).upper()
            if in_subkey:
                sub, _ = current.subkeys[-1]
                current.subkeys[-1] = (sub, fpr)
            elif not current.fingerprint:
                current.fingerprint = fpr
        elif record.kind == "uid" and not in_subkey:
            current.uids.append(record.field(9))
    return keys


# -- python-gnupg's result objects, made unable to crash -------------------------------------

_LISTING_METHODS = ("key", "pub", "sec", "fpr", "grp", "uid", "sub", "ssb", "sig")


def _guarded(method: Callable[..., Any], what: str) -> Callable[..., Any]:
    def guarded(self: Any, *args: Any) -> Any:
        try:
            return method(self, *args)
        except Exception:  # noqa: BLE001 - python-gnupg's parse of a line it did not expect
            log.debug("python-gnupg could not parse a %s line; ignored (judged by our own parse)", what)
            return None

    return guarded


def tolerant_results() -> dict[str, type]:
    """python-gnupg's ``result_map`` with every result class's line handlers guarded."""
    tolerant: dict[str, type] = {}
    for kind, cls in gnupg.GPG.result_map.items():
        overrides = {"handle_status": _guarded(cls.handle_status, "status")}
        for name in _LISTING_METHODS:
            if callable(getattr(cls, name, None)):
                overrides[name] = _guarded(getattr(cls, name), "listing")
        tolerant[kind] = type(f"Tolerant{cls.__name__}", (cls,), overrides)
    return tolerant
