"""What a shared file really is, by its content - never by its name - and whether a PDF
carries active content.

Allowed types (:data:`ALLOWED`), each recognised by the signature its specification
fixes: PDF (``%PDF-`` within the first 1024 bytes, where readers look for it), JPEG
(``FF D8 FF``), PNG (the 8-byte signature), TIFF (``II*\\0`` / ``MM\\0*``, BigTIFF
``II+\\0`` / ``MM\\0+``), DICOM (a 128-byte preamble, then ``DICM``), and plain text
(UTF-8 without control characters other than tab, line feed, carriage return and form
feed). Six fixed signatures are checked here directly: a general "magic" library guesses
among thousands of types by ranking, where an allowlist wants an exact yes or no.

A PDF is parsed with pypdf (strict: a file it has to repair is refused - viewers repair
differently, so what was checked might not be what a viewer runs). Every object is
visited, also those inside object streams, with names decoded as PDF defines them (so
``/J#61vaScript`` is ``/JavaScript``). Quarantined: JavaScript anywhere (``/JS``,
``/JavaScript``, also behind ``/OpenAction`` and ``/AA``), ``/Launch`` actions, embedded
files and file attachments, ``/GoToE``, RichMedia (Flash), XFA forms (their scripts),
``/ImportData``; and a PDF that cannot be read (damaged, or encrypted with a password).
The file is only parsed, never rendered or opened in a viewer.
"""

from __future__ import annotations

import codecs
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from practice_client.core.text import Text

log = logging.getLogger(__name__)

# type -> (GDT 6303 format, file extension)
ALLOWED: dict[str, tuple[str, str]] = {
    "pdf": ("PDF", "pdf"), "jpeg": ("JPG", "jpg"), "png": ("PNG", "png"), "tiff": ("TIF", "tif"),
    "dicom": ("DCM", "dcm"), "text": ("TXT", "txt"),
}
_PNG = b"\x89PNG\r\n\x1a\n"
_TIFF = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")
_TEXT_CONTROLS = frozenset(range(0x20)) - {0x09, 0x0A, 0x0C, 0x0D} | {0x7F}
MAX_PDF_OBJECTS = 1_000_000  # more objects than any document; a hostile count is refused
_BLOCK = 1024 * 1024


@dataclass(frozen=True)
class ContentVerdict:
    """``file_type`` when allowed; otherwise ``reason`` (a code of shares.states.REASONS)
    and ``detail`` (what was found - no content of the file)."""

    file_type: str | None
    reason: str | None = None
    detail: Text | str = ""  # a text for staff, or what was found (identifiers)

    @property
    def allowed(self) -> bool:
        return self.reason is None


def detect_type(path: Path) -> str | None:
    """The allowed type the content has, or None."""
    with path.open("rb") as handle:
        head = handle.read(1024)
    if b"%PDF-" in head:
        return "pdf"
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head.startswith(_PNG):
        return "png"
    if head[:4] in _TIFF:
        return "tiff"
    if len(head) >= 132 and head[128:132] == b"DICM":
        return "dicom"
    return "text" if head and _is_text(path) else None


def _is_text(path: Path) -> bool:
    """Valid UTF-8 throughout (read in blocks: memory does not grow with the size), no
    control characters but tab, line breaks and form feed."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    with path.open("rb") as handle:
        while block := handle.read(_BLOCK):
            if any(b in _TEXT_CONTROLS for b in block):
                return False
            try:
                decoder.decode(block)
            except UnicodeDecodeError:
                return False
    try:
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


def check_content(path: Path) -> ContentVerdict:
    """The type by content against the allowlist; a PDF also for active content."""
    kind = detect_type(path)
    if kind is None:
        return ContentVerdict(None, "type_not_allowed", Text("unbekannter Inhalt", "unknown content"))
    if kind == "pdf":
        try:
            findings = pdf_active_content(path)
        except PdfUnreadable as exc:
            return ContentVerdict("pdf", "pdf_unreadable", exc.text)
        if findings:
            return ContentVerdict("pdf", "pdf_active_content", ", ".join(findings))
    return ContentVerdict(kind)


class PdfUnreadable(Exception):
    """The PDF cannot be checked (damaged, repaired, encrypted): one line, no content."""

    def __init__(self, text: Text) -> None:
        super().__init__(str(text))
        self.text = text


# Action types (/S) and keys that make a PDF active.
_ACTIONS = {"/JavaScript": "JavaScript", "/Launch": "Launch", "/GoToE": "GoToE",
            "/ImportData": "ImportData", "/RichMediaExecute": "RichMedia"}
_KEYS = {"/JS": "JavaScript", "/JavaScript": "JavaScript", "/EmbeddedFiles": "embedded files",
         "/EmbeddedFile": "embedded files", "/RichMedia": "RichMedia", "/XFA": "XFA",
         "/Launch": "Launch"}
_TYPES = {"/EmbeddedFile": "embedded files", "/Filespec": None, "/RichMediaSettings": "RichMedia"}
_SUBTYPES = {"/FileAttachment": "file attachment", "/RichMedia": "RichMedia", "/Movie": None, "/Screen": None}


def pdf_active_content(path: Path) -> list[str]:
    """What makes this PDF active (sorted, e.g. ``["JavaScript", "OpenAction → JavaScript"]``);
    empty for a passive PDF. Raises :class:`PdfUnreadable`."""
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    try:
        reader = PdfReader(path, strict=True)
        if reader.is_encrypted and not reader.decrypt(""):
            raise PdfUnreadable(Text("verschlüsseltes PDF", "encrypted PDF"))
        found: set[str] = set()
        for obj in _objects(reader):
            _inspect(obj, found)
        _inspect(reader.trailer, found)
        catalog = reader.trailer.get("/Root")
        for key in ("/OpenAction", "/AA"):
            triggered = _triggered(catalog.get_object().get(key) if catalog is not None else None)
            found |= {f"{key[1:]} → {what}" for what in triggered}
    except PdfUnreadable:
        raise
    except (PyPdfError, ValueError, KeyError, TypeError, AttributeError, RecursionError, OSError,
            AssertionError, IndexError, UnicodeError, OverflowError, MemoryError) as exc:
        why = type(exc).__name__
        raise PdfUnreadable(Text(f"PDF nicht lesbar ({why})", f"PDF not readable ({why})")) from None
    return sorted(found)


def _objects(reader: Any) -> list[Any]:
    """Every indirect object of the file: those of the cross-reference tables (all
    generations) and those inside object streams."""
    from pypdf.generic import IndirectObject

    numbers: set[tuple[int, int]] = set()
    for generation, table in reader.xref.items():
        numbers |= {(int(n), int(generation)) for n in table}
    numbers |= {(int(n), 0) for n in reader.xref_objStm}
    if len(numbers) > MAX_PDF_OBJECTS:
        raise PdfUnreadable(Text(f"zu viele PDF-Objekte ({len(numbers)})", f"too many PDF objects ({len(numbers)})"))
    return [reader.get_object(IndirectObject(n, g, reader)) for n, g in sorted(numbers)]


def _inspect(obj: Any, found: set[str], depth: int = 0) -> None:
    """Direct objects within ``obj`` (dictionaries, arrays, a stream's dictionary);
    indirect references are not followed: each indirect object is visited on its own."""
    from pypdf.generic import ArrayObject, DictionaryObject

    if depth > 100:
        raise PdfUnreadable(Text("PDF zu tief verschachtelt", "PDF nested too deeply"))
    if isinstance(obj, DictionaryObject):  # streams are dictionaries too
        for key, value in obj.items():
            name = str(key)
            if name in _KEYS:
                found.add(_KEYS[name])
            if name == "/S" and str(value) in _ACTIONS:
                found.add(_ACTIONS[str(value)])
            if name == "/Type" and _TYPES.get(str(value)):
                found.add(str(_TYPES[str(value)]))
            if name == "/Subtype" and _SUBTYPES.get(str(value)):
                found.add(str(_SUBTYPES[str(value)]))
            _inspect(value, found, depth + 1)
    elif isinstance(obj, ArrayObject):
        for value in obj:
            _inspect(value, found, depth + 1)


def _triggered(value: Any, depth: int = 0) -> set[str]:
    """What an /OpenAction or /AA starts: the action types along the chain (/Next too),
    following nothing else (a destination is not an action)."""
    from pypdf.generic import ArrayObject, DictionaryObject, IndirectObject

    if depth > 20 or value is None:
        return set()
    if isinstance(value, IndirectObject):
        value = value.get_object()
    found: set[str] = set()
    if isinstance(value, ArrayObject):
        for item in value:
            found |= _triggered(item, depth + 1)
    elif isinstance(value, DictionaryObject):
        if "/S" in value:  # an action: its type, and the actions that follow it
            kind = str(value["/S"])
            if kind in _ACTIONS:
                found.add(_ACTIONS[kind])
            if "/JS" in value:
                found.add("JavaScript")
            found |= _triggered(value.get("/Next"), depth + 1)
        else:  # an /AA dictionary: trigger -> action
            for item in value.values():
                found |= _triggered(item, depth + 1)
    return found
