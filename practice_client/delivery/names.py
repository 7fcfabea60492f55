"""File names from the export folder are untrusted input.

A name is only ever used as a *base name* inside the client's own folders
(``processed/``, ``failed/``, the literal packet of the encrypted document).
It is cut to a safe base name first: no separators, no ``.``/``..``, no control
or bidi-formatting characters (a right-to-left override can make
``rechnung\u202efdp.exe`` read as ``rechnungexe.pdf``), NFC-normalised so the
same visible name is one name, and short enough for every file system.
"""

from __future__ import annotations

import os
import unicodedata
from pathlib import Path

MAX_NAME_BYTES = 200
FALLBACK_NAME = "dokument"

# Names the PMS (or an editor) uses while a file is still being written.
TEMPORARY_SUFFIXES = (".part", ".tmp", ".crdownload", ".partial", ".swp")


def display_name(raw: str) -> str:
    """The name as text, even when the file system gave undecodable bytes."""
    return os.fsencode(raw).decode("utf-8", "replace")


def safe_name(raw: str) -> str:
    """A base name that is safe to join to one of the client's folders."""
    text = unicodedata.normalize("NFC", display_name(raw))
    kept = []
    for char in text:
        category = unicodedata.category(char)
        if char in "/\\\x00" or category in ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"):
            kept.append("_" if char in "/\\" else "")
        elif char == "\ufffd":
            kept.append("_")
        else:
            kept.append(char)
    name = "".join(kept).strip().lstrip(".").strip()
    if name in ("", ".", ".."):
        return FALLBACK_NAME
    encoded = name.encode("utf-8")
    if len(encoded) > MAX_NAME_BYTES:
        stem, dot, suffix = name.rpartition(".")
        keep_suffix = dot and 0 < len(suffix) <= 10
        tail = f".{suffix}" if keep_suffix else ""
        head = (stem if keep_suffix else name).encode("utf-8")[: MAX_NAME_BYTES - len(tail.encode())]
        name = head.decode("utf-8", "ignore") + tail
    return name


def is_temporary(name: str) -> bool:
    """Still being written by the PMS or an office program: wait until it is renamed."""
    lowered = name.lower()
    return name.startswith((".", "~$")) or lowered.endswith(TEMPORARY_SUFFIXES) or lowered.endswith("~")


def is_sidecar(name: str) -> bool:
    """A GDT sidecar (``<file>.gdt``) describes a document; it is never one itself."""
    return name.lower().endswith(".gdt")


def free_path(folder: Path, name: str, tag: str) -> Path:
    """``folder/name``, or ``folder/<stem>-<tag><suffix>`` when that is taken."""
    candidate = folder / name
    return candidate if not os.path.lexists(candidate) else folder / tagged_name(name, tag)


def tagged_name(name: str, tag: str) -> str:
    """``<stem>-<tag><suffix>``: the second name for a file whose name is taken."""
    stem, dot, suffix = name.rpartition(".")
    if not dot or not stem:
        stem, suffix = name, ""
    return f"{stem}-{tag}{'.' + suffix if suffix else ''}"
