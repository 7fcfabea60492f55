"""A document's GDT record: the PMS's word on whose it is.

PMS write it in one of two ways, and both count the same:

- a *sidecar* ``<file>.gdt`` beside the document;
- a GDT file of any name in the same folder whose field 6305 (file reference) names
  the document - the common PMS pattern of the GDT file-archive fields, often with
  the PMS's own path (``C:\\PVS\\Export\\befund.pdf``): only the last part counts.

Only the first record counts, and only its first occurrence of each field; a
malformed file is an :class:`~practice_client.core.errors.InputError` (the document
then goes to staff, unassigned, with that reason). Two GDT files naming one document
are a conflict for staff, never a choice.
"""

from __future__ import annotations

import functools
import os
import stat
import unicodedata
from pathlib import Path

from practice_client.core.errors import InputError
from practice_client.core.files import read_bounded
from practice_client.core.gdt import parse_gdt
from practice_client.core.text import Text

MAX_SIDECAR_BYTES = 1024 * 1024
FILE_REFERENCE = "6305"
SIDECAR_SUFFIX = ".gdt"


def read_sidecar(path: Path) -> dict[str, str]:
    """Field id -> content of the sidecar's first record."""
    return sidecar_fields(read_bounded(path, MAX_SIDECAR_BYTES, "GDT sidecar"), path.name)


def sidecar_fields(data: bytes, name: str) -> dict[str, str]:
    """Field id -> content of the first record of sidecar bytes (``name`` for errors)."""
    records = parse_gdt(data, name)
    fields: dict[str, str] = {}
    for _, field, content in records[0].fields if records else ():
        fields.setdefault(field, content.strip())
    return fields


def _reference_key(name: str) -> str:
    """A file name as 6305 and the file system may each write it (case, NFC/NFD, path)."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1].strip()
    return unicodedata.normalize("NFC", base).casefold()


@functools.lru_cache(maxsize=4096)
def _named_file(path: str, _identity: tuple[int, int, int, int]) -> str | None:
    """The 6305 reference of one GDT file, cached by the file's identity (device, inode,
    size, mtime): a folder is rescanned for every document, each file is read once."""
    try:
        reference = read_sidecar(Path(path)).get(FILE_REFERENCE)
    except (InputError, OSError):
        return None
    return _reference_key(reference) if reference else None


def is_regular(st: os.stat_result) -> bool:
    """A GDT file we may read: a regular file with one name (links are never followed)."""
    return stat.S_ISREG(st.st_mode) and st.st_nlink == 1


def folder_index(folder: Path) -> dict[str, list[Path]]:
    """Every GDT file of a folder under the document name(s) it speaks for: a sidecar
    under its own name less ``.gdt`` (first), a 6305 reference under the name it gives.
    One directory listing for any number of documents of the folder."""
    index: dict[str, list[Path]] = {}
    references: list[tuple[str, Path]] = []
    try:
        with os.scandir(folder) as entries:
            for entry in entries:
                if not entry.name.lower().endswith(SIDECAR_SUFFIX):
                    continue
                st = entry.stat(follow_symlinks=False)
                if not is_regular(st):
                    continue
                path = Path(entry.path)
                own = _reference_key(entry.name[: -len(SIDECAR_SUFFIX)])
                index.setdefault(own, []).append(path)
                named = _named_file(entry.path, (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns))
                if named and named != own:
                    references.append((named, path))
    except OSError:
        pass
    for named, path in sorted(references):
        index.setdefault(named, []).append(path)
    return index


def records_for(document: Path, index: dict[str, list[Path]] | None = None) -> list[Path]:
    """Every GDT file that speaks for ``document``: its sidecar and the GDT files of its
    folder whose 6305 names it. More than one is a conflict the caller reports."""
    found = (folder_index(document.parent) if index is None else index).get(_reference_key(document.name), [])
    return list(found)


def conflict(records: list[Path]) -> Text:
    """The reason staff see when several GDT files name one document."""
    names = ", ".join(p.name for p in records)
    return Text(f"Mehrere GDT-Datensätze nennen dieses Dokument ({names}), bitte zuordnen",
                f"several GDT records name this document ({names}), please assign")
