"""Patient master data from the PMS: a CSV export or a GDT file.

This is what a request's phone number is compared with and what a trust
certificate is linked to, so every row is validated before anything is stored:
one bad row refuses the whole file with a one-line error naming the file and the
line, and nothing is imported.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
import unicodedata
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from practice_client.core.errors import InputError
from practice_client.core.files import read_bounded
from practice_client.core.gdt import GdtRecord, parse_gdt
from practice_client.core.models import Patient
from practice_client.core.phone import normalize_phone

CSV_HEADER = ["patient_number", "name", "birth_date", "phone"]
MAX_FILE_BYTES = 64 * 1024 * 1024
PATIENT_NUMBER_RE = re.compile(r"^[0-9A-Za-z][0-9A-Za-z.-]{0,31}$")
_GDT_START = re.compile(rb"^\d{3}8000")


@dataclass(frozen=True)
class MasterData:
    """A validated file: its patients and an identifier for the audit log (no file name,
    which may itself carry patient data)."""

    patients: list[Patient]
    source: str


def validate_patient(
    number: str, name: str, birth_date: str, phone: str, source: str | Path, where: str
) -> Patient:
    """One patient's fields, checked and normalised (ISO date, E.164 phone)."""
    number = number.strip()
    if not PATIENT_NUMBER_RE.match(number):
        raise InputError(source, f"{where}: the patient number is empty or not valid")
    name = " ".join(name.split())
    if not name or len(name) > 200 or any(unicodedata.category(c).startswith("C") for c in name):
        raise InputError(source, f"{where}: the name is empty or not valid")
    birth = parse_birth_date(birth_date.strip())
    if birth is None:
        raise InputError(source, f"{where}: the birth date is not a valid date (YYYY-MM-DD)")
    e164 = None
    if phone.strip():
        e164 = normalize_phone(phone.strip())
        if e164 is None:
            raise InputError(source, f"{where}: the phone number is not a valid number")
    return Patient(number, name, birth, e164)


def parse_birth_date(text: str) -> str | None:
    """ISO ``YYYY-MM-DD``, German ``TT.MM.JJJJ`` or GDT ``TTMMJJJJ``; None when invalid."""
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        parts = (int(text[:4]), int(text[5:7]), int(text[8:10]))
    elif re.fullmatch(r"\d{2}\.\d{2}\.\d{4}", text):
        parts = (int(text[6:10]), int(text[3:5]), int(text[:2]))
    elif re.fullmatch(r"\d{8}", text):
        parts = (int(text[4:8]), int(text[2:4]), int(text[:2]))
    else:
        return None
    try:
        day = date(*parts)
    except ValueError:
        return None
    return day.isoformat() if date(1880, 1, 1) <= day <= date.today() else None


def _unique(patients: list[tuple[str, Patient]], source: str | Path) -> list[Patient]:
    """One row per patient number; a repeat with other data is a conflict, not an update."""
    seen: dict[str, Patient] = {}
    for where, patient in patients:
        known = seen.get(patient.patient_number)
        if known is not None and known != patient:
            raise InputError(source, f"{where}: patient number {patient.patient_number} appears twice")
        seen[patient.patient_number] = patient
    if not seen:
        raise InputError(source, "no patients in the file")
    return list(seen.values())


def parse_csv(data: bytes, source: str | Path) -> list[Patient]:
    """``patient_number,name,birth_date,phone`` with that header; UTF-8 (BOM allowed);
    ``;`` as separator too (German spreadsheet exports)."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(source, f"not UTF-8 text (byte {exc.start})") from None
    if "\x00" in text:
        raise InputError(source, "binary data, not a CSV file")
    first = text.split("\n", 1)[0]
    delimiter = ";" if ";" in first and "," not in first else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    rows: list[tuple[str, Patient]] = []
    try:
        header = next(reader, None)
        if header is None or [h.strip().lower() for h in header] != CSV_HEADER:
            raise InputError(source, f"line 1: the header must be {','.join(CSV_HEADER)}")
        for row in reader:
            where = f"line {reader.line_num}"
            if not any(cell.strip() for cell in row):
                continue
            if len(row) != len(CSV_HEADER):
                raise InputError(source, f"{where}: expected 4 columns, found {len(row)}")
            number, name, birth_date, phone = row
            rows.append((where, validate_patient(number, name, birth_date, phone, source, where)))
    except csv.Error as exc:
        raise InputError(source, f"line {reader.line_num}: not valid CSV ({exc})") from None
    return _unique(rows, source)


def _gdt_patient(record: GdtRecord, source: str | Path) -> Patient | None:
    number = record.first("3000")
    if number is None:
        return None
    where = f"line {number[0]}"
    surname, birth = record.first("3101"), record.first("3103")
    if surname is None or birth is None:
        raise InputError(source, f"{where}: patient record without surname (3101) or birth date (3103)")
    first_name = record.first("3102")
    name = f"{first_name[1] if first_name else ''} {surname[1]}"
    if not re.fullmatch(r"\d{8}", birth[1].strip()):
        raise InputError(source, f"line {birth[0]}: the birth date (3103) must be TTMMJJJJ")
    phone = record.first("3618") or record.first("3626")
    return validate_patient(
        number[1], name, birth[1].strip(), phone[1] if phone else "", source, where
    )


def parse_gdt_patients(data: bytes, source: str | Path) -> list[Patient]:
    rows = []
    for record in parse_gdt(data, source):
        patient = _gdt_patient(record, source)
        if patient is not None:
            rows.append((f"line {record.line}", patient))
    return _unique(rows, source)


def is_gdt(path: Path, data: bytes) -> bool:
    """By extension (``.gdt``, counter extensions ``.000``...), else by content."""
    suffix = path.suffix.lower()
    if suffix == ".gdt" or re.fullmatch(r"\.\d{3}", suffix):
        return True
    if suffix == ".csv":
        return False
    return bool(_GDT_START.match(data))


def read_master_data(path: Path) -> MasterData:
    """Read and validate a whole file; raises before anything could be stored."""
    return master_data(path, read_bounded(path, MAX_FILE_BYTES, "patient master data file"))


def master_data(path: Path, data: bytes) -> MasterData:
    """A file's bytes read and validated (``path`` names it in errors and picks the format);
    the practice service takes files this way from the workstations."""
    if len(data) > MAX_FILE_BYTES:
        raise InputError(path, f"too large for a patient master data file (over {MAX_FILE_BYTES} bytes)")
    kind = "gdt" if is_gdt(path, data) else "csv"
    patients = parse_gdt_patients(data, path) if kind == "gdt" else parse_csv(data, path)
    return MasterData(patients, f"{kind}:sha256:{hashlib.sha256(data).hexdigest()[:16]}")
