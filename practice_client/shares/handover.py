"""Hand a clean share to the PMS: the file into the PMS import folder with a GDT record,
exactly once.

The record is Satzart 6310 ("send results", as devices report to the PMS): 3000 the
patient number, 3101/3102/3103 surname, first name and birth date of the PMS master data
(the client keeps the name as one field: the last word is taken as the surname), 6200/6201
date and time of receipt, 6220 a line of text, 6302-6305 the file reference (share id,
format, document type, the file's path in the import folder) - so the PMS files it under
the right patient. Its name is the file's with ``.gdt``; the file's name comes from
``share_name_pattern`` (for PMS that import by file name), made only of ``A-Z a-z 0-9 . _ -``.

Exactly once, whatever is killed when (the caller records each step in the store):

1. the plan - folder, final names, temporary names, the record's time - is stored in the
   transition to ``handing_over``, before anything is written;
2. both files are written under temporary names (``.<name>.part``: no PMS pattern matches
   them), fsync'd, and only then marked *staged* in the store;
3. each is renamed to its final name without ever replacing a file (``renameat2``
   ``RENAME_NOREPLACE`` on Linux, ``MoveFile`` on Windows, else a hard link): the data
   file first, the GDT record - which makes the PMS act - last;
4. then ``handed_over``.

After a crash: not staged → the temporary files (if any) are written again; staged → a
temporary file still there was not renamed yet (rename it), one gone was renamed (and may
already be imported by the PMS: it is never written again).
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import errno
import os
import re
import shutil
import sys
import unicodedata
from datetime import datetime
from pathlib import Path
from typing import Any

from practice_client.core.atomic import fsync_dir
from practice_client.core.gdt import build_record, file_reference, gdt_date
from practice_client.core.models import Patient, Share
from practice_client.shares.content import ALLOWED

RESULTS = "6310"
PLACEHOLDERS = ("patient_number", "birth_date", "date", "type", "share", "share_id", "ext")
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_GERMAN = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "Ä": "Ae", "Ö": "Oe", "Ü": "Ue", "ß": "ss"})


class NameTaken(Exception):
    """A file of that name is already in the import folder: nothing is replaced."""


def safe_part(text: str) -> str:
    """A piece of a file name: umlauts written out, anything else outside A-Z a-z 0-9 . _ -
    becomes ``_`` (no separators, no traversal, nothing a shell or PMS misreads)."""
    folded = unicodedata.normalize("NFKD", text.translate(_GERMAN)).encode("ascii", "ignore").decode()
    return _UNSAFE.sub("_", folded).strip("._") or "x"


def file_name(pattern: str, share: Share, patient: Patient, file_type: str, when: datetime) -> str:
    """The file's name in the import folder. Raises ValueError for a bad pattern."""
    document_date = share.manifest.get("document_date") or when.strftime("%Y-%m-%d")
    values = {
        "patient_number": patient.patient_number, "birth_date": gdt_date(patient.birth_date),
        "date": str(document_date).replace("-", ""), "type": str(share.manifest.get("document_type") or "Dokument"),
        "share": share.share_id[:8], "share_id": share.share_id, "ext": ALLOWED[file_type][1],
    }
    try:
        rendered = pattern.format_map({k: safe_part(v) for k, v in values.items()})
    except (KeyError, ValueError, IndexError, AttributeError) as exc:
        raise ValueError(f"share_name_pattern: {type(exc).__name__} {exc}") from None
    name = safe_part(rendered)
    if not name.lower().endswith("." + ALLOWED[file_type][1]):
        name = f"{name}.{ALLOWED[file_type][1]}"
    if len(name) > 200:
        raise ValueError("share_name_pattern: the name is longer than 200 characters")
    return name


def plan(folder: Path, name: str, when: datetime) -> dict[str, Any]:
    """What the hand-over will write, stored before a byte is written."""
    stem = name.rsplit(".", 1)[0]
    return {"folder": str(folder), "file": name, "record": f"{stem}.gdt", "tmp_file": f".{name}.part",
            "tmp_record": f".{stem}.gdt.part", "when": when.isoformat(), "staged": False}


def split_name(name: str) -> tuple[str, str]:
    """(surname, first names) from the PMS's one name field: the last word is the surname."""
    words = name.split()
    return (words[-1], " ".join(words[:-1])) if words else ("", "")


def record(share: Share, patient: Patient, file_type: str, handover: dict[str, Any]) -> bytes:
    """The GDT record's bytes - the same for the same plan (written again after a crash)."""
    when = datetime.fromisoformat(str(handover["when"]))
    surname, first = split_name(patient.name)
    kind = str(share.manifest.get("document_type") or "Dokument")
    fields = [("3000", patient.patient_number), ("3101", surname)]
    fields += [("3102", first)] if first else []
    fields += [
        ("3103", gdt_date(patient.birth_date)),
        ("6200", when.strftime("%d%m%Y")),
        ("6201", when.strftime("%H%M%S")),
        ("6220", f"Von der Patientin/dem Patienten über die App geteilt: {kind}"[:200]),
        *file_reference(share.share_id, ALLOWED[file_type][0], kind[:60],
                        str(Path(handover["folder"]) / handover["file"])),
    ]
    return build_record(RESULTS, fields)


def stage(handover: dict[str, Any], plaintext: Path, gdt: bytes) -> None:
    """Write both files under their temporary names (replacing leftovers), fsync'd."""
    folder = Path(handover["folder"])
    tmp_file, tmp_record = folder / handover["tmp_file"], folder / handover["tmp_record"]
    with plaintext.open("rb") as source, _create(tmp_file) as target:
        shutil.copyfileobj(source, target, 1024 * 1024)
        target.flush()
        os.fsync(target.fileno())
    with _create(tmp_record) as target:
        target.write(gdt)
        target.flush()
        os.fsync(target.fileno())
    fsync_dir(folder)


def _create(path: Path) -> Any:
    path.unlink(missing_ok=True)
    return path.open("xb")


def place(handover: dict[str, Any]) -> None:
    """Rename the staged files to their final names, the data file first; a temporary file
    already gone was renamed before. Raises :class:`NameTaken`."""
    folder = Path(handover["folder"])
    for tmp, final in (("tmp_file", "file"), ("tmp_record", "record")):
        source, target = folder / handover[tmp], folder / handover[final]
        if not source.exists():
            continue
        if target.exists() and os.path.samefile(source, target):  # linked, not yet unlinked
            source.unlink()
            continue
        rename_no_replace(source, target)
    fsync_dir(folder)


def rename_no_replace(source: Path, target: Path) -> None:
    """An atomic rename that never replaces ``target``. Raises :class:`NameTaken`."""
    if sys.platform == "win32":  # pragma: no cover - MoveFileEx without REPLACE_EXISTING
        try:
            os.rename(source, target)
        except FileExistsError:
            raise NameTaken(target.name) from None
        return
    if _renameat2(source, target):
        return
    try:
        os.link(source, target)  # fails if the target exists
    except FileExistsError:
        raise NameTaken(target.name) from None
    except OSError as exc:
        if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EXDEV, errno.EOPNOTSUPP):
            raise
        if target.exists():  # a file system without links (some network shares)
            raise NameTaken(target.name) from None
        os.rename(source, target)
        return
    source.unlink()


def _renameat2(source: Path, target: Path) -> bool:
    """Linux's renameat2(RENAME_NOREPLACE); False where the kernel or file system lacks it."""
    function = _libc_renameat2()
    if function is None:
        return False
    at_fdcwd, noreplace = -100, 1
    if function(at_fdcwd, os.fsencode(source), at_fdcwd, os.fsencode(target), noreplace) == 0:
        return True
    code = ctypes.get_errno()
    if code == errno.EEXIST:
        raise NameTaken(target.name)
    if code in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP):
        return False
    raise OSError(code, os.strerror(code), str(source))


def _libc_renameat2() -> Any:
    if not sys.platform.startswith("linux"):
        return None
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        function = libc.renameat2
        function.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
        function.restype = ctypes.c_int
        return function
    return None
