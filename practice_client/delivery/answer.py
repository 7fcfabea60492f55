"""The GDT answer: tells the PMS that a document was delivered, so it shows it as sent.

When ``gdt_answer_dir`` is set (the PMS's GDT import folder), every delivered
document gets one record there - Satzart 6310 ("send results"), the way devices
report back: 3000 patient number and 3103 birth date of the PMS record (3101/3102
from the document's own GDT record when it came with one), 6200/6201 date and time
of delivery, 6220 a line of text, 6302-6305 the file reference (the original in
``processed/``). The file appears at once and complete (temp file + fsync + rename);
its name carries the document id, so writing it again after a crash replaces it.
"""

from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from practice_client.core.atomic import atomic_write
from practice_client.core.errors import InputError
from practice_client.core.gdt import build_record, file_reference, gdt_date
from practice_client.core.models import Document
from practice_client.delivery.sidecar import read_sidecar

if TYPE_CHECKING:
    from practice_client.context import Context

log = logging.getLogger(__name__)

RESULTS = "6310"


def answer_name(document_id: str) -> str:
    return f"PCLT{document_id[:8].upper()}.gdt"


def answer_record(doc: Document, patient_number: str, birth_date: str, names: dict[str, str],
                  original: Path | None, when: datetime) -> bytes:
    """The record's bytes (pure, for tests): ``names`` are 3101/3102 when known."""
    fields = [("3000", patient_number)]
    fields += [(field, names[field]) for field in ("3101", "3102") if names.get(field)]
    fields += [
        ("3103", gdt_date(birth_date)),
        ("6200", when.strftime("%d%m%Y")),
        ("6201", when.strftime("%H%M%S")),
        ("6220", f"Dokument an die Patienten-App übermittelt: {doc.original_name}"),
        *file_reference(doc.document_id, Path(doc.original_name).suffix.lstrip(".").upper() or "DAT",
                        "Übermittelt an Patienten-App", str(original) if original else doc.original_name),
    ]
    return build_record(RESULTS, fields)


def write_answer(ctx: Context, doc: Document, sidecar: Path, original: Path | None) -> Path | None:
    """Write the answer for a delivered document (None when not configured or the patient
    has no PMS record). MUST NOT stop the delivery: a failure is logged and audited."""
    folder = ctx.config.gdt_answer_dir
    record = ctx.store.get_request(doc.request_id or "")
    patient = ctx.store.get_patient(record.patient_number) if record and record.patient_number else None
    if not folder or patient is None:
        return None
    names: dict[str, str] = {}
    try:
        if sidecar.exists():
            names = read_sidecar(sidecar)
    except InputError:
        names = {}
    target = Path(folder) / answer_name(doc.document_id)
    try:
        data = answer_record(doc, patient.patient_number, patient.birth_date, names, original,
                             datetime.now().astimezone())
        atomic_write(target, data, 0o644)
    except (OSError, ValueError) as exc:
        log.warning("document %s: GDT answer not written (%s)", doc.document_id, type(exc).__name__)
        ctx.store.record("document.gdt_answer_failed", document_id=doc.document_id,
                         error=type(exc).__name__)
        return None
    return target
