"""Which accepted request does a file from the export folder belong to?

Exactly DESIGN.md's order, and never a guess:

1. a per-request subfolder ``<export>/<request id>/`` (the client creates it on
   accept): the request must be accepted and not expired;
2. the file-name pattern (config ``filename_pattern``, default
   ``<patient number>_<anything>``): patient number -> pinned key -> that
   patient's ONE open accepted request;
3. a GDT sidecar ``<file>.gdt`` (field 3000 patient number), whose name and birth
   date (3101/3102/3103) must agree with the PMS master data;
4. otherwise *unassigned*, for staff to assign.

Two candidates (two open requests, or a pattern and a sidecar naming different
patients) are never resolved by guessing: the file goes to staff.

Everything here is pure: the caller takes a :class:`MatchData` snapshot from the
store, so the rules are unit-tested without files, network or gpg.
"""

from __future__ import annotations

import re
import unicodedata
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from practice_client.core.models import Patient, RequestRecord, RequestStatus

SUBFOLDER = "subfolder"
PATTERN = "pattern"
GDT = "gdt"
STAFF = "staff"


@dataclass(frozen=True)
class MatchData:
    """What matching needs from the store, taken once per file."""

    requests: Sequence[RequestRecord]
    pins: Mapping[str, str]  # patient number -> pinned fingerprint
    patients: Mapping[str, Patient]  # patient number -> PMS master data
    now: datetime


@dataclass(frozen=True)
class Match:
    """The result: a request id and how it was found, or ``None`` and why not."""

    request_id: str | None
    method: str | None
    reason: str  # for staff (German / English) when unassigned; empty on a match

    @property
    def matched(self) -> bool:
        return self.request_id is not None


def _unassigned(reason: str) -> Match:
    return Match(None, None, reason)


def is_open(record: RequestRecord, now: datetime) -> bool:
    """Accepted and not expired: the only requests a document may go to."""
    if record.status is not RequestStatus.ACCEPTED:
        return False
    if record.expires_at:
        try:
            expires = datetime.fromisoformat(record.expires_at.replace("Z", "+00:00"))
        except ValueError:
            return False
        if expires.tzinfo is None:
            expires = expires.replace(tzinfo=UTC)
        return expires > now
    return True


def looks_like_request_id(name: str) -> bool:
    try:
        return str(uuid.UUID(name)) == name.lower()
    except ValueError:
        return False


def match_subfolder(folder: str, data: MatchData) -> Match | None:
    """Rule 1. ``None`` when the folder is not a request folder (rules 2-4 decide)."""
    if not looks_like_request_id(folder):
        return None
    for record in data.requests:
        if record.request_id == folder.lower():
            if is_open(record, data.now):
                return Match(record.request_id, SUBFOLDER, "")
            return _unassigned(
                f"Anfrage {record.request_id} ist nicht angenommen oder abgelaufen / "
                f"request {record.request_id} is not accepted or has expired"
            )
    return _unassigned(f"Ordner {folder}: keine solche Anfrage / no such request")


def patient_number_from_name(file_name: str, pattern: str) -> str | None:
    """The PMS patient number the configured pattern finds in a file name."""
    try:
        found = re.fullmatch(pattern, file_name)
    except re.error:
        return None
    if found is None or "patient_number" not in found.groupdict():
        return None
    return found.group("patient_number") or None


def open_request_of_patient(patient_number: str, data: MatchData) -> Match:
    """Patient number -> pinned key -> exactly one open accepted request of that key."""
    fingerprint = data.pins.get(patient_number)
    if fingerprint is None:
        return _unassigned(
            f"Patient {patient_number}: kein Vertrauenszertifikat / no pinned trust certificate"
        )
    candidates = sorted(
        {r.request_id for r in data.requests
         if r.patient_fingerprint == fingerprint and is_open(r, data.now)}
    )
    if len(candidates) == 1:
        return Match(candidates[0], "", "")
    if not candidates:
        return _unassigned(
            f"Patient {patient_number}: keine offene angenommene Anfrage / no open accepted request"
        )
    return _unassigned(
        f"Patient {patient_number}: {len(candidates)} offene Anfragen, bitte zuordnen / "
        f"{len(candidates)} open requests, please assign"
    )


def gdt_birth_date(value: str) -> str | None:
    """GDT 3103 is TTMMJJJJ; master data is ISO."""
    digits = value.strip()
    if len(digits) != 8 or not digits.isdigit():
        return None
    return f"{digits[4:]}-{digits[2:4]}-{digits[:2]}"


def _name_tokens(text: str) -> list[str]:
    text = unicodedata.normalize("NFC", text).casefold().replace(",", " ")
    return sorted(text.split())


def gdt_agrees(fields: Mapping[str, str], patient: Patient) -> bool:
    """3101 surname + 3102 first name + 3103 birth date against the master data."""
    surname, first = fields.get("3101", ""), fields.get("3102", "")
    if (surname or first) and _name_tokens(f"{first} {surname}") != _name_tokens(patient.name):
        return False
    if "3103" in fields and gdt_birth_date(fields["3103"]) != patient.birth_date:
        return False
    return bool(surname or first or "3103" in fields)


def gdt_patient(fields: Mapping[str, str], data: MatchData) -> tuple[str | None, str]:
    """Rule 3: the sidecar's patient number, once its name and birth date agree."""
    number = fields.get("3000", "").strip()
    if not number:
        return None, "GDT-Datei ohne Patientennummer (3000) / GDT sidecar without patient number"
    patient = data.patients.get(number)
    if patient is None:
        return None, f"Patient {number} (GDT) ist nicht in den Stammdaten / not in master data"
    if not gdt_agrees(fields, patient):
        return None, (
            f"GDT-Angaben zu Patient {number} passen nicht zu den Stammdaten / "
            "GDT name or birth date disagree with master data"
        )
    return number, ""


def match_file(
    folder: str | None,
    file_name: str,
    sidecar: Mapping[str, str] | None,
    pattern: str,
    data: MatchData,
) -> Match:
    """The one entry point: DESIGN.md's order, unassigned when in doubt."""
    if folder:
        by_folder = match_subfolder(folder, data)
        if by_folder is not None:
            return by_folder
    by_name = patient_number_from_name(file_name, pattern)
    if by_name is not None and by_name not in data.pins and by_name not in data.patients:
        by_name = None  # the pattern caught something that is not a patient number
    by_gdt, gdt_problem = gdt_patient(sidecar, data) if sidecar is not None else (None, "")
    if sidecar is not None and by_gdt is None and by_name is None:
        return _unassigned(gdt_problem)
    if by_name is not None and sidecar is not None and by_gdt != by_name:
        return _unassigned(
            "Dateiname und GDT-Datei nennen verschiedene Patienten / "
            "file name and GDT sidecar name different patients"
        )
    number = by_name or by_gdt
    if number is None:
        return _unassigned(
            "Keine Zuordnung über Ordner, Dateiname oder GDT / no subfolder, name pattern or GDT match"
        )
    found = open_request_of_patient(number, data)
    if not found.matched:
        return found
    return Match(found.request_id, PATTERN if by_name is not None else GDT, "")
