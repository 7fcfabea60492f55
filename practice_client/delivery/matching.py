"""Which accepted request does a file from the export folder belong to?

Exactly DESIGN.md's order, never a guess, and never on one identifier alone:

1. a per-request subfolder ``<export>/<request id>/`` (the client creates it on
   accept): bound to that one request, which must be accepted and not expired;
2. the file-name pattern (config ``filename_pattern``, default
   ``<patient number>_<birth date>_<anything>``, birth date ``TTMMJJJJ`` or
   ``YYYY-MM-DD``): the number names a PMS patient whose birth date must be the one
   in the name; a name with the number alone counts only when the administrator's
   policy allows it (``number_only_matching``); then that patient's ONE valid
   request;
3. a GDT record for the file (a sidecar ``<file>.gdt``, or a GDT file whose field
   6305 names the file): number (3000), surname (3101), first name (3102) and birth
   date (3103) must all agree with the PMS record;
4. otherwise *unassigned*, for staff to assign.

Two candidates (two valid requests, a pattern and a GDT record naming different
patients, twins the birth date cannot tell apart) go to staff, and so does a patient
whose PMS record no longer fits the request (renamed after a marriage, say). Each
reason shows both sides: what the file says and what the PMS record says.

Everything here is pure: the caller gives a :class:`MatchData` - the valid requests and
an :class:`~practice_client.core.identity.IdentityIndex` that looks up only the patient
numbers and birth dates the rules ask about - so the rules are unit-tested without files,
network or gpg, and a document costs a handful of indexed queries, not a read of every
PMS patient.

Words: an *open* request is one staff have not decided yet (``RequestStatus.OPEN``); an
*accepted* one, staff accepted; a *valid* one is accepted and not expired - the only
kind a document may go to (:func:`is_valid`).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from practice_client.core.identity import IdentityIndex, NameMatch, compare_names, german_date, name_tokens
from practice_client.core.models import Patient, RequestRecord, RequestStatus
from practice_client.core.patients import parse_birth_date
from practice_client.core.text import Text

SUBFOLDER = "subfolder"
PATTERN = "pattern"
GDT = "gdt"
STAFF = "staff"


@dataclass(frozen=True)
class MatchData:
    """What matching needs from the store, taken once per file (or per rematch): the valid
    requests, and the PMS records and pins as the rules ask for them."""

    requests: Sequence[RequestRecord]
    identities: IdentityIndex
    now: datetime


@dataclass(frozen=True)
class NameRule:
    """The file-name pattern and whether the policy lets the patient number alone match."""

    pattern: str
    number_only: bool = False


@dataclass(frozen=True)
class Match:
    """The result: a request id and how it was found, or ``None`` and why not."""

    request_id: str | None
    method: str | None
    reason: Text  # for staff when unassigned; empty on a match

    @property
    def matched(self) -> bool:
        return self.request_id is not None


NO_REASON = Text.same("")


def _unassigned(reason: Text) -> Match:
    return Match(None, None, reason)


def _who(patient: Patient) -> Text:
    """A PMS patient as staff know them."""
    return Text(f"{patient.patient_number} {patient.name}, geb. {german_date(patient.birth_date)}",
                f"{patient.patient_number} {patient.name}, born {patient.birth_date}")


def is_valid(record: RequestRecord, now: datetime) -> bool:
    """Accepted and not expired (a *valid* request): the only requests a document may go to."""
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


def _checked(record: RequestRecord, method: str, data: MatchData) -> Match:
    """A match stands only while the PMS record still fits the request's patient."""
    problem = data.identities.of_request(record).automatic_problem()
    if problem is not None:
        return _unassigned(Text(
            f"Patient {record.patient_number}: Stammdaten passen nicht mehr zur Anfrage ({problem[0]})",
            f"Patient {record.patient_number}: the PMS record no longer fits the request ({problem[1]})",
        ))
    return Match(record.request_id, method, NO_REASON)


def match_subfolder(folder: str, data: MatchData) -> Match | None:
    """Rule 1. ``None`` when the folder is not a request folder (rules 2-4 decide)."""
    if not looks_like_request_id(folder):
        return None
    for record in data.requests:
        if record.request_id == folder.lower():
            if is_valid(record, data.now):
                return _checked(record, SUBFOLDER, data)
            return _unassigned(Text(
                f"Anfrage {record.request_id} ist nicht angenommen oder abgelaufen",
                f"request {record.request_id} is not accepted or has expired",
            ))
    return _unassigned(Text(f"Ordner {folder}: keine solche Anfrage", f"Ordner {folder}: no such request"))


# -- rule 2: the file name ----------------------------------------------------------------


@dataclass(frozen=True)
class NameIdentifiers:
    """What the pattern found in a file name."""

    patient_number: str
    birth_date: str | None  # as written; None when the pattern has or found none


def identifiers_from_name(file_name: str, pattern: str) -> NameIdentifiers | None:
    """The patient number (and birth date) the configured pattern finds in a file name."""
    try:
        found = re.fullmatch(pattern, file_name)
    except re.error:
        return None
    if found is None or "patient_number" not in found.groupdict() or not found.group("patient_number"):
        return None
    birth = found.groupdict().get("birth_date")
    return NameIdentifiers(found.group("patient_number"), birth or None)


def namesakes(patient: Patient, data: MatchData, strict: bool) -> list[Patient]:
    """Other PMS patients with the same birth date and a name that could be this one's:
    sharing a name (twins: the birth date cannot tell them apart) or, ``strict``, the
    same name in the same or another spelling."""
    others = [p for p in data.identities.born_on(patient.birth_date) if p.patient_number != patient.patient_number]
    if strict:
        return [p for p in others if compare_names(p.name, patient.name) is not NameMatch.DIFFERENT]
    tokens = set(name_tokens(patient.name))
    return [p for p in others if tokens & set(name_tokens(p.name))
            or compare_names(p.name, patient.name) is not NameMatch.DIFFERENT]


def _twins(patient: Patient, twins: list[Patient]) -> Text:
    listed = [_who(p) for p in [patient, *twins]]
    return Text(
        "Geburtsdatum und Name unterscheiden diese Patienten nicht, bitte zuordnen: "
        + "; ".join(t.de for t in listed),
        "birth date and name do not tell these patients apart, please assign: " + "; ".join(t.en for t in listed),
    )


def name_problem(ids: NameIdentifiers, patient: Patient, rule: NameRule, data: MatchData) -> tuple[Text, bool] | None:
    """Why the file name does not identify ``patient`` (reason, whether it contradicts
    the PMS record), or None when number and birth date agree."""
    who = _who(patient)
    if ids.birth_date is None:
        if rule.number_only:
            return None
        return Text(f"Dateiname nennt nur die Patientennummer {ids.patient_number}, kein Geburtsdatum "
                    f"(zweites Merkmal; PVS: {who.de})",
                    f"the file name has the patient number {ids.patient_number} but no birth date "
                    f"(second identifier; PMS: {who.en})"), False
    born = parse_birth_date(ids.birth_date)
    if born != patient.birth_date:
        return Text(f"Dateiname: Patient {ids.patient_number}, geb. {ids.birth_date} – PVS: {who.de}",
                    f"file name: patient {ids.patient_number}, born {ids.birth_date} - PMS: {who.en}"), True
    twins = namesakes(patient, data, strict=False)
    return (_twins(patient, twins), True) if twins else None


# -- rule 3: a GDT record ------------------------------------------------------------------


def gdt_birth_date(value: str) -> str | None:
    """GDT 3103 is TTMMJJJJ; master data is ISO."""
    digits = value.strip()
    return parse_birth_date(digits) if len(digits) == 8 and digits.isdigit() else None


def gdt_agrees(fields: Mapping[str, str], patient: Patient) -> bool:
    """3101 surname, 3102 first name and 3103 birth date all present and agreeing with the
    PMS record (the name in the same or another spelling: a 7-bit PMS writes "Mueller")."""
    surname, first, birth = fields.get("3101", ""), fields.get("3102", ""), fields.get("3103", "")
    if not (surname and first and birth):
        return False
    same_name = compare_names(f"{first} {surname}", patient.name) is not NameMatch.DIFFERENT
    return same_name and gdt_birth_date(birth) == patient.birth_date


def _gdt_says(fields: Mapping[str, str]) -> Text:
    name = f"{fields.get('3102', '')} {fields.get('3101', '')}".strip() or "–"
    birth = fields.get("3103", "") or "–"
    return Text(f"GDT: {fields.get('3000', '') or '–'} {name}, geb. {birth}",
                f"GDT: {fields.get('3000', '') or '-'} {name}, born {birth}")


def gdt_patient(fields: Mapping[str, str], data: MatchData) -> tuple[Patient | None, Text]:
    """Rule 3: the GDT record's patient, once number, name and birth date all agree."""
    says = _gdt_says(fields)
    number = fields.get("3000", "").strip()
    if not number:
        return None, Text(f"GDT ohne Patientennummer (3000) ({says.de})",
                          f"GDT record without patient number ({says.en})")
    patient = data.identities.patient(number)
    if patient is None:
        return None, Text(f"{says.de}: nicht in den Stammdaten", f"{says.en}: not in the PMS master data")
    if not gdt_agrees(fields, patient):
        who = _who(patient)
        return None, Text(f"{says.de} – PVS: {who.de}: Name oder Geburtsdatum fehlen oder weichen ab",
                          f"{says.en} - PMS: {who.en}: name or birth date missing or different")
    twins = namesakes(patient, data, strict=True)
    return (None, _twins(patient, twins)) if twins else (patient, NO_REASON)


# -- the request of a patient -------------------------------------------------------------


def valid_request_of_patient(patient_number: str, method: str, data: MatchData) -> Match:
    """Exactly one valid request of this PMS patient (whichever key signed it: a key
    changed since is the outbox's to hold, not a reason to look elsewhere)."""
    if data.identities.pin(patient_number) is None:
        return _unassigned(Text(f"Patient {patient_number}: kein Vertrauenszertifikat",
                                f"Patient {patient_number}: no pinned trust certificate"))
    candidates = {r.request_id: r for r in data.requests
                  if r.patient_number == patient_number and is_valid(r, data.now)}
    if len(candidates) == 1:
        return _checked(next(iter(candidates.values())), method, data)
    if not candidates:
        return _unassigned(Text(f"Patient {patient_number}: keine gültige Anfrage (angenommen, nicht abgelaufen)",
                                f"Patient {patient_number}: no valid request (accepted, not expired)"))
    listed = ", ".join(sorted(candidates))
    return _unassigned(Text(f"Patient {patient_number}: {len(candidates)} gültige Anfragen ({listed}), bitte zuordnen",
                            f"Patient {patient_number}: {len(candidates)} valid requests ({listed}), please assign"))


def match_file(
    folder: str | None,
    file_name: str,
    sidecar: Mapping[str, str] | None,
    rule: NameRule,
    data: MatchData,
    sidecar_problem: Text | None = None,
) -> Match:
    """The one entry point: DESIGN.md's order, unassigned when in doubt."""
    if folder:
        by_folder = match_subfolder(folder, data)
        if by_folder is not None:
            return by_folder
    if sidecar_problem:
        return _unassigned(sidecar_problem)
    ids = identifiers_from_name(file_name, rule.pattern)
    by_name = data.identities.patient(ids.patient_number) if ids else None
    if ids is not None and by_name is None and data.identities.pin(ids.patient_number) is not None:
        return _unassigned(Text(f"Patient {ids.patient_number}: nicht in den Stammdaten (PVS)",
                                f"Patient {ids.patient_number}: not in the PMS master data"))
    by_gdt, gdt_problem = gdt_patient(sidecar, data) if sidecar is not None else (None, NO_REASON)
    if sidecar is not None and by_gdt is None:
        return _unassigned(gdt_problem)
    if by_name is not None and by_gdt is not None and by_name != by_gdt:
        assert sidecar is not None
        file, says = _who(by_name), _gdt_says(sidecar)
        return _unassigned(Text(
            f"Dateiname und GDT nennen verschiedene Patienten: Datei {file.de}, {says.de}",
            f"file name and GDT name different patients: file {file.en}, {says.en}",
        ))
    if by_name is not None and ids is not None:
        problem = name_problem(ids, by_name, rule, data)
        if problem is not None and (problem[1] or by_gdt is None):
            return _unassigned(problem[0])
    if by_gdt is not None:
        return valid_request_of_patient(by_gdt.patient_number, GDT if by_name is None else PATTERN, data)
    if by_name is not None:
        return valid_request_of_patient(by_name.patient_number, PATTERN, data)
    return _unassigned(Text("Keine Zuordnung über Ordner, Dateiname oder GDT",
                            "no subfolder, name pattern or GDT match"))
