"""GDT (Gerätedatentransfer), the German PMS exchange format - read byte by byte.

A line is ``LLL`` (the length of the whole line in bytes, including these three
digits and the closing CR LF) + a 4-digit field id + content + CR LF. A record
starts with field 8000 (record type); a file may hold several records. The
character set comes from field 9206 and applies to the whole file, so lines are
split and measured as bytes first and only the contents are decoded afterwards:
a length counts bytes, not characters.

9206 values: 1 = 7-bit (DIN 66003, the German ISO 646 variant with umlauts in
place of ``[\\]{|}~``), 2 = CP437 (the GDT 2.1 default when 9206 is missing),
3 = ISO 8859-1. DESIGN.md also names ISO 8859-15 and UTF-8; they are accepted as
4 and 5 - that numbering is ours, not the standard's.

:func:`build_record` writes a record the same way (the client's answers to the PMS):
CP437, the GDT 2.1 default every PMS reads, with 8100 the record's length in bytes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from practice_client.core.errors import InputError

RECORD_TYPE = "8000"
RECORD_LENGTH = "8100"
CHARSET = "9206"

CHARSETS = {"1": "din66003", "2": "cp437", "3": "iso8859-1", "4": "iso8859-15", "5": "utf-8"}
DEFAULT_CHARSET = "2"
_DIN_66003 = str.maketrans({"@": "§", "[": "Ä", "\\": "Ö", "]": "Ü", "{": "ä", "|": "ö", "}": "ü", "~": "ß"})
MIN_LINE = 9  # LLL + FFFF + CR LF, empty content


@dataclass(frozen=True)
class GdtLine:
    number: int  # 1-based line number in the file, for error messages
    field: str
    content: bytes


@dataclass(frozen=True)
class GdtRecord:
    """One record: its lines in order, contents decoded."""

    line: int  # where the record starts
    fields: tuple[tuple[int, str, str], ...]  # (line number, field id, content)

    def first(self, field: str) -> tuple[int, str] | None:
        """(line number, content) of the field's first occurrence."""
        for number, fid, content in self.fields:
            if fid == field:
                return number, content
        return None


def split_lines(data: bytes, source: str | Path) -> list[GdtLine]:
    """Every line checked: CR LF endings, a correct length, a numeric field id."""
    if data.endswith(b"\x1a"):  # DOS end-of-file marker some PMS still write
        data = data[:-1]
    if not data:
        raise InputError(source, "empty GDT file")
    if not data.endswith(b"\r\n"):
        raise InputError(source, "GDT file does not end with CR LF (truncated?)")
    lines: list[GdtLine] = []
    for number, raw in enumerate(data[:-2].split(b"\r\n"), start=1):
        where = f"line {number}"
        if b"\n" in raw or b"\r" in raw:
            raise InputError(source, f"{where}: GDT lines must end with CR LF")
        if len(raw) + 2 < MIN_LINE or not raw[:7].isdigit() or not raw[:7].isascii():
            raise InputError(source, f"{where}: not a GDT line (LLL length + 4-digit field expected)")
        declared = int(raw[:3])
        if declared != len(raw) + 2:
            raise InputError(
                source, f"{where}: length field says {declared} bytes, the line has {len(raw) + 2}"
            )
        content = raw[7:]
        if any(b < 0x20 or b == 0x7F for b in content):
            raise InputError(source, f"{where}: control characters in field {raw[3:7].decode()}")
        lines.append(GdtLine(number, raw[3:7].decode("ascii"), content))
    return lines


def _codec(lines: list[GdtLine], source: str | Path) -> str:
    values = {(line.number, line.content.strip()) for line in lines if line.field == CHARSET}
    codes = {v.decode("ascii", "replace") for _, v in values}
    if len(codes) > 1:
        raise InputError(source, "conflicting character sets (field 9206)")
    code = codes.pop() if codes else DEFAULT_CHARSET
    if code not in CHARSETS:
        number = min(n for n, _ in values)
        raise InputError(source, f"line {number}: unknown character set '{code}' in field 9206")
    return CHARSETS[code]


def _decode(content: bytes, codec: str, number: int, source: str | Path) -> str:
    try:
        if codec == "din66003":
            return content.decode("ascii").translate(_DIN_66003)
        return content.decode(codec)
    except UnicodeDecodeError:
        raise InputError(source, f"line {number}: not valid {codec} text") from None


def parse_gdt(data: bytes, source: str | Path) -> list[GdtRecord]:
    """All records of a GDT file; any malformed line refuses the whole file."""
    lines = split_lines(data, source)
    codec = _codec(lines, source)
    if lines[0].field != RECORD_TYPE:
        raise InputError(source, "line 1: a GDT record must start with field 8000")
    groups: list[list[GdtLine]] = []
    for line in lines:
        if line.field == RECORD_TYPE:
            groups.append([])
        groups[-1].append(line)
    records = []
    for group in groups:
        _check_record_length(group, source)
        records.append(GdtRecord(
            group[0].number,
            tuple((ln.number, ln.field, _decode(ln.content, codec, ln.number, source)) for ln in group),
        ))
    return records


def _check_record_length(group: list[GdtLine], source: str | Path) -> None:
    """Field 8100, when present and non-zero, is the record's size in bytes: a cut-off
    record (a file copied while the PMS was still writing it) shows up here."""
    for line in group:
        if line.field == RECORD_LENGTH and line.content.strip().isdigit():
            declared = int(line.content.strip())
            actual = sum(len(ln.content) + 9 for ln in group)
            if declared and declared != actual:
                raise InputError(
                    source, f"line {line.number}: record length (8100) says {declared} bytes, "
                    f"the record has {actual}",
                )


WRITE_CHARSET = "2"  # CP437


def _line(field: str, content: str) -> bytes:
    body = content.encode(CHARSETS[WRITE_CHARSET], "replace")  # a character CP437 lacks: "?"
    body = bytes(b if b >= 0x20 and b != 0x7F else 0x20 for b in body)  # no control bytes, ever
    size = len(body) + MIN_LINE
    if size > 999:
        raise ValueError(f"GDT field {field} is too long ({size} bytes)")
    return f"{size:03d}{field}".encode("ascii") + body + b"\r\n"


def build_record(record_type: str, fields: list[tuple[str, str]]) -> bytes:
    """One GDT record: 8000 ``record_type``, 8100 its length, 9206 the character set,
    then ``fields`` in order. Parsing it with :func:`parse_gdt` gives the fields back."""
    body = b"".join(_line(field, content) for field, content in [(CHARSET, WRITE_CHARSET), *fields])
    head = _line(RECORD_TYPE, record_type)
    length_line = MIN_LINE + 5
    return head + _line(RECORD_LENGTH, f"{len(head) + length_line + len(body):05d}") + body


def gdt_date(iso: str) -> str:
    """An ISO date (YYYY-MM-DD) as GDT writes dates: TTMMJJJJ."""
    return f"{iso[8:10]}{iso[5:7]}{iso[:4]}"


def file_reference(file_id: str, file_format: str, description: str, location: str) -> list[tuple[str, str]]:
    """The file archive fields of a record: 6302 the file's id, 6303 its format (PDF, JPG,
    ...), 6304 what it is, 6305 where it is (the PMS opens or imports it from there)."""
    return [("6302", file_id), ("6303", file_format), ("6304", description), ("6305", location)]
