"""Parse a request message: the MIME structure and the request JSON (docs/formats.md).

Everything here is strict because everything here is attacker-controlled: sizes
are bounded before parsing, the structure must be exactly the three parts the
platform sends, the JSON must match the schema of version 1 with no unknown or
duplicated keys. The exact bytes of ``request.json`` are kept, because the
patient's signature covers those bytes and nothing else.

Problems are raised as :class:`FormatProblem`, whose details are bilingual and
free of patient data (they end up in the audit-visible check list).
"""

from __future__ import annotations

import email
import email.policy
import json
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from email.message import EmailMessage, Message
from typing import Any

from practice_client.core.identity import text_problem
from practice_client.core.store import MAX_MESSAGE_BYTES
from practice_client.intake.request_schema import REQUESTABLE_DOCUMENTS, schema_problems

MAX_JSON_BYTES = 64 * 1024
MAX_SIGNATURE_BYTES = 16 * 1024
MAX_TEXT_BYTES = 64 * 1024
DOCUMENT_TYPES = REQUESTABLE_DOCUMENTS

_ARMORED_SIGNATURE_RE = re.compile(
    rb"\A\s*-----BEGIN PGP SIGNATURE-----\r?\n[\x20-\x7e\r\n\t]*?\r?\n-----END PGP SIGNATURE-----\s*\Z"
)
_PHONE_LINE_RE = re.compile(r"^[ \t]*Telefon(?:nummer)?[ \t]*:[ \t]*(\S.*?)[ \t]*$", re.MULTILINE)


class FormatProblem(Exception):
    """The message or its request JSON does not have the agreed format."""

    def __init__(self, detail_de: str, detail_en: str) -> None:
        super().__init__(detail_en)
        self.detail_de = detail_de
        self.detail_en = detail_en


@dataclass(frozen=True)
class RequestData:
    """The schema-checked request JSON (version 1)."""

    request_id: str
    created_at: datetime
    expires_at: datetime
    practice_id: str
    patient_name: str
    birth_date: str
    phone: str
    fingerprint: str  # upper case
    documents: tuple[str, ...]
    period_from: str
    period_to: str
    consent_text: str
    consent_signed_at: datetime
    data: dict[str, Any]  # the parsed JSON as received


@dataclass(frozen=True)
class ParsedMessage:
    """A request message taken apart: what each check needs, nothing interpreted yet."""

    request_json: bytes  # exactly the bytes the patient signed
    signature: bytes
    text: str
    text_phones: tuple[str, ...]  # phone numbers stated in the human-readable part
    request: RequestData


def _bad(de: str, en: str) -> FormatProblem:
    return FormatProblem(de, en)


# -- MIME -------------------------------------------------------------------------


def parse_message(raw: bytes) -> ParsedMessage:
    """Take a raw RFC 5322 request message apart, or raise :class:`FormatProblem`."""
    if len(raw) > MAX_MESSAGE_BYTES:
        raise _bad("Die Nachricht ist zu groß.", "The message is too large.")
    try:
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        return _parse_structure(msg)
    except FormatProblem:
        raise
    except Exception:  # noqa: BLE001 - any parser failure on hostile input is a format problem
        raise _bad(
            "Die Nachricht ist beschädigt oder hat kein gültiges Format.",
            "The message is damaged or not in a valid format.",
        ) from None


def _part_name(part: Message) -> str:
    return str(part.get_filename() or part.get_param("name") or "")


def _parse_structure(msg: EmailMessage) -> ParsedMessage:
    if msg.get_content_type() != "multipart/mixed" or not msg.is_multipart():
        raise _bad(
            "Die Nachricht ist keine Anfrage der Plattform (falscher Aufbau).",
            "The message is not a platform request (wrong structure: not multipart/mixed).",
        )
    parts = msg.get_payload()
    if not isinstance(parts, list) or len(parts) != 3:
        raise _bad(
            "Die Anfrage muss genau drei Teile haben (Text, request.json, Signatur).",
            "The request must have exactly three parts (text, request.json, signature).",
        )
    by_type: dict[str, Message] = {}
    for part in parts:
        if not isinstance(part, Message) or part.is_multipart():
            raise _bad("Die Anfrage enthält verschachtelte Teile.", "The request contains nested parts.")
        by_type.setdefault(part.get_content_type(), part)
    text_part = by_type.get("text/plain")
    json_part = by_type.get("application/json")
    sig_part = by_type.get("application/pgp-signature")
    if text_part is None or json_part is None or sig_part is None:
        raise _bad(
            "Der Anfrage fehlt ein Teil (Text, request.json oder Signatur).",
            "The request lacks a part (text, request.json or signature).",
        )
    if _part_name(json_part) != "request.json" or _part_name(sig_part) != "request.json.sig":
        raise _bad(
            "Die Anhänge der Anfrage sind falsch benannt.",
            "The request's attachments have the wrong names.",
        )
    request_json = _payload(json_part, MAX_JSON_BYTES, "request.json")
    signature = _payload(sig_part, MAX_SIGNATURE_BYTES, "request.json.sig")
    if not _ARMORED_SIGNATURE_RE.match(signature):
        raise _bad(
            "Die Signatur der Einwilligung ist keine gültige OpenPGP-Signatur.",
            "The consent signature is not a well-formed OpenPGP signature.",
        )
    text_bytes = _payload(text_part, MAX_TEXT_BYTES, "text")
    charset = text_part.get_content_charset() or "us-ascii"
    try:
        text = text_bytes.decode(charset).replace("\r\n", "\n")
    except (LookupError, UnicodeDecodeError):
        raise _bad("Der Text der Anfrage ist nicht lesbar.", "The request's text part is not readable.") from None
    return ParsedMessage(
        request_json=request_json,
        signature=signature,
        text=text,
        text_phones=tuple(m.group(1) for m in _PHONE_LINE_RE.finditer(text)),
        request=parse_request_json(request_json),
    )


def _payload(part: Message, limit: int, what: str) -> bytes:
    data = part.get_payload(decode=True)
    if not isinstance(data, bytes) or not data:
        raise _bad(f"Der Teil {what} ist leer.", f"The part {what} is empty.")
    if len(data) > limit:
        raise _bad(f"Der Teil {what} ist zu groß.", f"The part {what} is too large.")
    return data


# -- request JSON -----------------------------------------------------------------


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise _bad("request.json enthält ein Feld doppelt.", "request.json contains a duplicated field.")
        result[key] = value
    return result


def parse_request_json(data: bytes) -> RequestData:
    """Check the request JSON against ``request.schema.json`` (version 1 only) and the rules
    a schema cannot state, or raise :class:`FormatProblem`."""
    if len(data) > MAX_JSON_BYTES:
        raise _bad("request.json ist zu groß.", "request.json is too large.")
    try:
        obj = json.loads(data.decode("utf-8"), object_pairs_hook=_no_duplicates)
    except FormatProblem:
        raise
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise _bad("request.json ist kein gültiges JSON.", "request.json is not valid JSON.") from None
    problems = schema_problems(obj)
    if problems:
        raise _bad(*problems[0])
    top: dict[str, Any] = obj
    if type(top["version"]) is not int:  # 1.0 and true equal 1 in JSON Schema, not here
        raise _bad(
            "Unbekannte Version des Anfrageformats – bitte Programm aktualisieren.",
            "Unknown version of the request format - update the program.",
        )
    patient, period, consent = top["patient"], top["period"], top["consent"]
    created_at = _timestamp(top["created_at"], "created_at")
    expires_at = _timestamp(top["expires_at"], "expires_at")
    if expires_at <= created_at:
        raise _bad("Die Anfrage läuft ab, bevor sie erstellt wurde.", "The request expires before it was created.")
    period_from = _date(period["from"], "period.from")
    period_to = _date(period["to"], "period.to")
    if period_from > period_to:
        raise _bad("Der Zeitraum der Anfrage ist verkehrt herum.", "The request's period ends before it starts.")
    return RequestData(
        request_id=top["request_id"],
        created_at=created_at,
        expires_at=expires_at,
        practice_id=top["practice_id"],
        patient_name=_identity(patient["name"], "patient.name"),
        birth_date=_date(patient["birth_date"], "patient.birth_date"),
        phone=_identity(patient["phone"], "patient.phone", scripts=False),
        fingerprint=patient["fingerprint"].upper(),
        documents=tuple(top["documents"]),
        period_from=period_from,
        period_to=period_to,
        consent_text=consent["text"],
        consent_signed_at=_timestamp(consent["signed_at"], "consent.signed_at"),
        data=top,
    )


def _timestamp(value: str, where: str) -> datetime:
    """A real point in time (the schema checked the form)."""
    try:
        return datetime.fromisoformat(value[:-1]).replace(tzinfo=UTC)
    except ValueError:
        raise _bad(
            f"request.json: Zeitangabe {where} ist ungültig.",
            f"request.json: timestamp {where} is invalid (ISO 8601 UTC with Z expected).",
        ) from None


def _date(value: str, where: str) -> str:
    """A real calendar date (the schema checked the form)."""
    try:
        date.fromisoformat(value)
    except ValueError:
        raise _bad(f"request.json: Datum {where} ist ungültig.", f"request.json: date {where} is invalid.") from None
    return value


def _identity(value: str, where: str, scripts: bool = True) -> str:
    """Who the request is about must read as what it is: no invisible characters (a
    right-to-left override or a zero-width joiner can make one name look like another),
    no look-alike letters of two alphabets (a Cyrillic "а" in a Latin name)."""
    problem = text_problem(value, scripts=scripts)
    if problem is not None:
        raise _bad(f"request.json: Feld {where} {problem[0]}.", f"request.json: field {where} {problem[1]}.")
    return value
