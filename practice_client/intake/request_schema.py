"""The request JSON's schema (``request.schema.json``, JSON Schema 2020-12), checked with ``jsonschema``.

The schema is the contract the platform and patients' apps build against; the
same file is published as ``docs/request.schema.json`` (a test keeps the two
identical). What JSON Schema cannot say - a key given twice, the order of dates,
real calendar dates, the version written as the integer 1 - ``message.py``
checks after this module.

Problems become one bilingual :class:`~practice_client.intake.message.FormatProblem`,
free of patient data (the details name fields, never values): the first in a fixed
order (shallow before deep, fields in the schema's order), so the same request
always gets the same message. Extra ``format`` rules register on
:data:`FORMAT_CHECKER`.
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker, ValidationError

SCHEMA: dict[str, Any] = json.loads(
    resources.files("practice_client.intake").joinpath("request.schema.json").read_text(encoding="utf-8")
)
REQUESTABLE_DOCUMENTS: tuple[str, ...] = tuple(SCHEMA["properties"]["documents"]["items"]["enum"])
FORMAT_CHECKER = FormatChecker(formats=())  # only formats registered for this contract are asserted
_FIELD_ORDER = tuple(SCHEMA["properties"])
_KIND = {
    "request_id": "request_id",
    "created_at": "timestamp", "expires_at": "timestamp", "consent.signed_at": "timestamp",
    "patient.birth_date": "date", "period.from": "date", "period.to": "date",
    "patient.fingerprint": "fingerprint",
    "documents": "documents",
}


_VALIDATOR = Draft202012Validator(SCHEMA, format_checker=FORMAT_CHECKER)


def _rank(error: ValidationError) -> tuple[int, int, str]:
    path = [str(p) for p in error.absolute_path]
    top = _FIELD_ORDER.index(path[0]) if path and path[0] in _FIELD_ORDER else -1
    return len(path), top, ".".join(path)


def schema_problems(obj: Any) -> list[tuple[str, str]]:
    """Every schema violation as (German, English), most fundamental first; empty when valid."""
    return [_describe(e) for e in sorted(_VALIDATOR.iter_errors(obj), key=_rank)]


def _describe(error: ValidationError) -> tuple[str, str]:
    path = [str(p) for p in error.absolute_path]
    where = ".".join(path) or "request.json"
    if error.validator in ("required", "additionalProperties"):
        return (f"request.json: {where} hat fehlende oder unbekannte Felder.",
                f"request.json: {where} has missing or unknown fields.")
    if error.validator == "type" and error.validator_value == "object":
        return f"request.json: {where} ist kein Objekt.", f"request.json: {where} is not an object."
    if path[:1] == ["version"]:
        return ("Unbekannte Version des Anfrageformats – bitte Programm aktualisieren.",
                "Unknown version of the request format - update the program.")
    kind = _KIND.get(where) or _KIND.get(path[0], "text")
    if kind == "timestamp":
        return (f"request.json: Zeitangabe {where} ist ungültig.",
                f"request.json: timestamp {where} is invalid (ISO 8601 UTC with Z expected).")
    if kind == "date":
        return f"request.json: Datum {where} ist ungültig.", f"request.json: date {where} is invalid."
    if kind == "request_id":
        return "request.json: Die Anfrage-ID ist ungültig.", "request.json: the request id is not a valid UUID4."
    if kind == "fingerprint":
        return "Der Schlüssel-Fingerabdruck ist ungültig.", "The key fingerprint is invalid."
    if kind == "documents":
        return ("request.json: Die angefragten Dokumentarten sind ungültig.",
                "request.json: the requested document types are invalid.")
    if error.validator == "not":  # the schema's only "not": no control characters
        return (f"request.json: Feld {where} enthält Steuerzeichen.",
                f"request.json: field {where} contains control characters.")
    if error.validator == "format":
        return (f"request.json: Feld {where} enthält unzulässige Zeichen.",
                f"request.json: field {where} contains characters that are not allowed.")
    return (f"request.json: Feld {where} fehlt, ist leer oder zu lang.",
            f"request.json: field {where} is missing, empty or too long.")
