"""A GDT sidecar (``<file>.gdt``) beside a document: the PMS's word on whose it is.

Only the first record counts, and only its first occurrence of each field; a
malformed file is an :class:`~practice_client.core.errors.InputError` (the
document then goes to staff, unassigned, with that reason).
"""

from __future__ import annotations

from pathlib import Path

from practice_client.core.files import read_bounded
from practice_client.core.gdt import parse_gdt

MAX_SIDECAR_BYTES = 1024 * 1024


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
