"""Whom a document may go to, as the store says now: valid requests and the recipient's key.

The rules themselves are pure (:mod:`.matching`); this module reads what they need from
the store - the *valid* requests (accepted and not expired, read through the index on
status and expiry), the PMS records and pins of the patients the rules ask about (by
number and by birth date, indexed: never every patient) - and the one key a document is
sealed to (:func:`recipient_pin`). Nothing here changes a row: the outbox does.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from practice_client.core.config import Config
from practice_client.core.errors import InputError, PracticeClientError, StateError
from practice_client.core.identity import IdentityIndex, PatientIdentity
from practice_client.core.models import Document, Pin, RequestRecord, RequestStatus
from practice_client.core.text import Text
from practice_client.crypto.gpg import group_fingerprint
from practice_client.delivery import matching
from practice_client.delivery.names import safe_name
from practice_client.delivery.spool import Spool

if TYPE_CHECKING:
    from practice_client.context import Context

VALID_PAGE = 500


def valid_requests(ctx: Context, now: datetime) -> list[RequestRecord]:
    """The requests a document may go to: accepted and not expired. Read through the index
    on (status, expiry), a page at a time: years of decided requests are never read."""
    found: list[RequestRecord] = []
    after = None
    expiring_after = (now - timedelta(days=1)).strftime("%Y-%m-%d")  # coarse; is_valid decides
    while True:
        page = ctx.store.page_requests(statuses=[str(RequestStatus.ACCEPTED)], expiring_after=expiring_after,
                                       after=after, limit=VALID_PAGE)
        found += [record for _key, record in page if matching.is_valid(record, now)]
        if len(page) < VALID_PAGE:
            return found
        after = page[-1][0]


def valid_request(ctx: Context, request_id: str) -> RequestRecord:
    """The request a document may go to: accepted and not expired (StateError otherwise)."""
    record = ctx.store.get_request(request_id)
    if record is None:
        raise StateError(Text(f"{request_id}: keine solche Anfrage", f"{request_id}: no such request"))
    if not matching.is_valid(record, datetime.now(UTC)):
        raise StateError(Text(
            f"{request_id}: Anfrage ist nicht angenommen oder abgelaufen ({record.status})",
            f"{request_id}: request is not accepted or has expired ({record.status})",
        ))
    return record


def match_data(ctx: Context) -> matching.MatchData:
    now = datetime.now(UTC)
    return matching.MatchData(requests=valid_requests(ctx, now), identities=IdentityIndex.on_store(ctx.store),
                              now=now)


def name_rule(config: Config) -> matching.NameRule:
    return matching.NameRule(config.filename_pattern, config.number_only_matching)


def wants_record(ctx: Context, path: Path) -> bool:
    """Would this export-folder file go unassigned without a GDT record? True unless it
    lies in a request's folder or its name alone identifies a PMS patient (number and
    birth date, or the number where the policy allows that): then the watcher waits a
    little for a record that arrives after the document."""
    export = Spool.of(ctx).export
    try:
        parts = path.relative_to(export).parts if export else (path.name,)
    except ValueError:
        parts = (path.name,)
    if len(parts) > 1 and matching.looks_like_request_id(parts[0]):
        return False
    ids = matching.identifiers_from_name(safe_name(path.name), ctx.config.filename_pattern)
    if ids is None or ctx.store.get_patient(ids.patient_number) is None:
        return True
    return ids.birth_date is None and not ctx.config.number_only_matching


def find(ctx: Context, doc: Document, data: matching.MatchData) -> matching.Match:
    """The matching rules applied to a document in the spool (its GDT record beside it,
    plain or sealed)."""
    try:
        fields = Spool.of(ctx).sidecar(doc.document_id)
    except PracticeClientError as exc:
        problem = exc.problem_text if isinstance(exc, InputError) else exc.text
        return matching.Match(None, None, Text("GDT-Datei unlesbar: ", "GDT sidecar unreadable: ") + problem)
    folder, conflict = doc.extra.get("folder"), doc.extra.get("sidecar_conflict")
    if isinstance(folder, str) and matching.looks_like_request_id(folder) and \
            all(r.request_id != folder.lower() for r in data.requests):
        named = ctx.store.get_request(folder.lower())  # staff learn why that folder's request cannot take it
        if named is not None:
            data = replace(data, requests=[*data.requests, named])
    return matching.match_file(
        folder if isinstance(folder, str) else None, doc.original_name, fields, name_rule(ctx.config), data,
        Text.decode(conflict) if isinstance(conflict, str) else None,
    )


@dataclass(frozen=True)
class AssignCandidate:
    """A request a document may be assigned to, named by the PMS record."""

    request_id: str
    identity: PatientIdentity
    documents: tuple[str, ...]
    period: tuple[str, str]
    expires_at: str | None

    def to_json(self) -> dict[str, Any]:
        return {"request_id": self.request_id, "patient": self.identity.to_json(),
                "documents": list(self.documents), "period": list(self.period), "expires_at": self.expires_at}


def assign_candidates(ctx: Context) -> list[AssignCandidate]:
    """The only requests staff are offered: valid, and of a patient in the PMS master
    data (whose birth date staff confirm), in the PMS's name order."""
    records = valid_requests(ctx, datetime.now(UTC))
    index = IdentityIndex.of_numbers(ctx.store, (r.patient_number for r in records))
    found = []
    for record in records:
        identity = index.of_request(record)
        if identity.pms is None:
            continue
        period = record.summary.get("period")
        period = period if isinstance(period, dict) else {}
        documents = record.summary.get("documents")
        found.append(AssignCandidate(
            record.request_id, identity,
            tuple(str(d) for d in documents) if isinstance(documents, list) else (),
            (str(period.get("from", "")), str(period.get("to", ""))), record.expires_at,
        ))
    return sorted(found, key=lambda c: (c.identity.pms.name.casefold() if c.identity.pms else "",
                                        c.identity.patient_number or "", c.request_id))


# -- the key a document goes to ---------------------------------------------------------------


class KeyChanged(PracticeClientError):
    """The patient's pinned key is not the one that signed the accepted request (re-pinned
    since): the document waits for staff instead of going to either key."""

    def __init__(self, accepted: str, current: str | None) -> None:
        self.accepted, self.current = accepted, current
        new = Text(group_fingerprint(current), group_fingerprint(current)) if current else Text("keiner", "none")
        super().__init__(Text(
            f"Schlüssel des Patienten seit Annahme der Anfrage geändert: angenommen mit "
            f"{group_fingerprint(accepted)}, jetzt hinterlegt {new.de} - bitte entscheiden",
            f"the patient's key changed since the request was accepted: accepted with "
            f"{group_fingerprint(accepted)}, pinned now {new.en} - staff must decide",
        ))


def recipient_pin(ctx: Context, doc: Document, record: RequestRecord) -> Pin:
    """The pin to seal to: the key that signed the accepted request (or the new key
    staff chose for this document), and only while it is that patient's pin."""
    approved = doc.extra.get("recipient_fingerprint")
    expected = (approved if isinstance(approved, str) else None) or record.accepted_fingerprint \
        or record.patient_fingerprint
    current = ctx.store.get_pin_for_patient(record.patient_number) if record.patient_number else None
    if not expected:
        raise StateError(Text(f"{record.request_id}: die Anfrage nennt keinen Schlüssel",
                              f"{record.request_id}: the request names no key"))
    if current is None or current.fingerprint != expected:
        raise KeyChanged(expected, current.fingerprint if current else None)
    return current
