"""Years of a busy practice, written through the store (``make bench``, the GUI's scale tests).

What a practice accumulates: PMS patients, pinned trust certificates, requests from
every year - verified, some needing review, some rejected; decided and reported - and
documents delivered for them, plus the few things on the way or waiting for staff that
a normal day leaves. Every row is written by the store's own methods, each change one
audited transaction (state machine checked, personal fields sealed, the audit chain
keyed): the home is what five years of use would leave, only built in minutes, a
batch (:meth:`~practice_client.core.store.Store.batch`) of changes per fsync.
Synthetic data only (names from short lists, random numbers and fingerprints).
"""

from __future__ import annotations

import hashlib
import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from practice_client.core.models import (
    Check,
    CheckStatus,
    Document,
    DocumentState,
    Patient,
    Pin,
    RequestRecord,
    RequestStatus,
    Verdict,
)
from practice_client.core.store import Store

FIRST = ("Anna", "Ben", "Clara", "David", "Elif", "Felix", "Greta", "Hans", "Ida", "Jonas", "Katharina", "Lukas",
         "Marie", "Noah", "Olga", "Paul", "Rosa", "Stefan", "Tina", "Ümit", "Vera", "Wolfgang", "Yasemin", "Zoe")
LAST = ("Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker", "Schulz", "Hoffmann",
        "Schäfer", "Koch", "Bauer", "Richter", "Klein", "Wolf", "Schröder", "Neumann", "Schwarz", "Yılmaz")
DOCUMENT_TYPES = ("Arztbrief", "Befund", "Laborwerte", "Bildgebung", "Medikationsplan")
CONSENT = "Ich bin einverstanden, dass die Praxis mir die genannten Unterlagen Ende-zu-Ende-verschlüsselt übermittelt."
CHECKS = ("dkim", "format", "consent_signature", "phone", "addressee", "freshness", "replay")
CHANGES_PER_BATCH = 5000
D = DocumentState


@dataclass(frozen=True)
class HistorySize:
    years: float = 5.0
    patients: int = 5_000
    pinned: int = 3_000
    requests: int = 10_000
    documents: int = 50_000


FIVE_YEARS = HistorySize()


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _checks(verdict: Verdict) -> list[Check]:
    checks = [Check(name, CheckStatus.PASS, "Prüfung bestanden.", "Check passed.") for name in CHECKS]
    if verdict is Verdict.NEEDS_REVIEW:
        checks[3] = Check("phone", CheckStatus.WARN, "Keine Telefonnummer im PVS.", "No phone number in the PMS.")
    elif verdict is Verdict.REJECTED:
        checks[0] = Check("dkim", CheckStatus.FAIL, "Nicht von der Plattform signiert.", "Not signed by the platform.")
    return checks


class _Writer:
    """Counts changes and starts a new batch every :data:`CHANGES_PER_BATCH`."""

    def __init__(self, store: Store, progress: Callable[[int], None] | None) -> None:
        self.store = store
        self.changes = 0
        self._progress = progress
        self._batch = store.batch()
        self._batch.__enter__()

    def step(self, count: int = 1) -> None:
        self.changes += count
        if self.changes % CHANGES_PER_BATCH < count:
            self._batch.__exit__(None, None, None)
            if self._progress is not None:
                self._progress(self.changes)
            self._batch = self.store.batch()
            self._batch.__enter__()

    def close(self) -> None:
        self._batch.__exit__(None, None, None)


def build_history(store: Store, size: HistorySize = FIVE_YEARS, now: datetime | None = None, seed: int = 5,
                  progress: Callable[[int], None] | None = None) -> int:
    """Write ``size`` worth of history ending at ``now``; returns the number of changes
    (audit entries). ``progress(changes)`` after each batch."""
    rng = random.Random(seed)  # noqa: S311 - synthetic data, reproducible
    now = (now or datetime.now(UTC)).replace(microsecond=0)
    start = now - timedelta(days=365.25 * size.years)
    writer = _Writer(store, progress)
    try:
        patients = [Patient(str(100000 + n), f"{rng.choice(FIRST)} {rng.choice(LAST)}",
                            f"{rng.randint(1930, 2020)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
                            f"+4917{rng.randint(10**7, 10**8 - 1)}") for n in range(size.patients)]
        for first in range(0, len(patients), 1000):
            store.upsert_patients(patients[first:first + 1000], f"praxis-{first // 1000}.gdt")
            writer.step()
        pins: list[Pin] = []
        for patient in patients[:size.pinned]:
            pin = Pin(f"{rng.getrandbits(160):040X}", patient.patient_number, patient.name, patient.birth_date,
                      patient.phone or "", "video", _iso(start), _iso(start),
                      "-----BEGIN PGP PUBLIC KEY BLOCK-----\n" + "A" * 900 + "\n-----END PGP PUBLIC KEY BLOCK-----\n")
            store.pin(pin)
            pins.append(pin)
            writer.step()
        accepted = _requests(store, writer, rng, size, pins, start, now)
        _documents(store, writer, rng, size, accepted, now)
    finally:
        writer.close()
    return writer.changes


def _requests(store: Store, writer: _Writer, rng: random.Random, size: HistorySize, pins: list[Pin],
              start: datetime, now: datetime) -> list[tuple[str, datetime]]:
    """The requests, oldest first; the accepted ones (id, time) for the documents."""
    span = (now - start) / max(1, size.requests)
    accepted: list[tuple[str, datetime]] = []
    for number in range(size.requests):
        received = start + span * number
        pin = rng.choice(pins)
        request_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        roll = rng.random()
        verdict = Verdict.REJECTED if roll < 0.03 else Verdict.NEEDS_REVIEW if roll < 0.08 else Verdict.VERIFIED
        digest, _new = store.store_message(f"Message-ID: <{request_id}@platform.test>\r\n\r\n{request_id}".encode(),
                                           "imap")
        summary = {"version": 1, "request_id": request_id, "created_at": _iso(received),
                   "expires_at": _iso(received + timedelta(days=14)), "practice_id": "praxis",
                   "patient": {"name": pin.name, "birth_date": pin.birth_date, "phone": pin.phone,
                               "fingerprint": pin.fingerprint},
                   "documents": rng.sample(DOCUMENT_TYPES, rng.randint(1, 3)),
                   "period": {"from": _iso(received - timedelta(days=365))[:10], "to": _iso(received)[:10]},
                   "consent": {"text": CONSENT, "signed_at": _iso(received)}}
        rejected = verdict is Verdict.REJECTED
        store.add_request(RequestRecord(
            request_id=request_id, message_sha256=digest, received_at=_iso(received), source="imap",
            verdict=verdict, checks=_checks(verdict), status=RequestStatus.REJECTED if rejected else RequestStatus.OPEN,
            patient_fingerprint=None if rejected else pin.fingerprint, patient_number=pin.patient_number,
            summary=summary, expires_at=summary["expires_at"],
        ))
        writer.step(2)
        if rejected or number >= size.requests - 15:  # the newest wait for staff
            continue
        status = RequestStatus.DECLINED if rng.random() < 0.1 else RequestStatus.ACCEPTED
        store.decide(request_id, status, "Unterlagen liegen nicht vor." if status is RequestStatus.DECLINED else None,
                     override=verdict is Verdict.NEEDS_REVIEW)
        store.mark_decision_sent(request_id)
        writer.step(2)
        if status is RequestStatus.ACCEPTED:
            accepted.append((request_id, received))
    return accepted


def _documents(store: Store, writer: _Writer, rng: random.Random, size: HistorySize,
               accepted: list[tuple[str, datetime]], now: datetime) -> None:
    """Documents for the accepted requests in order; all delivered but the newest few,
    which are on their way or wait for staff."""
    for number in range(size.documents):
        request_id, received = accepted[min(len(accepted) - 1, number * len(accepted) // max(1, size.documents))]
        created = received + timedelta(minutes=rng.randint(5, 600) + number % 7)
        document_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        name = f"{rng.choice(DOCUMENT_TYPES)}_{number:05d}.pdf"
        size_bytes = rng.randint(40_000, 4_000_000)
        store.add_document(Document(document_id, D.DETECTED, name, f"/srv/export/{name}", size_bytes,
                                    hashlib.sha256(name.encode()).hexdigest(), _iso(min(created, now)),
                                    _iso(min(created, now))))
        left = size.documents - number
        path = ([D.UNASSIGNED] if left == 9 else [D.MATCHED, D.FAILED] if left == 5
                else [D.MATCHED, D.ENCRYPTED, D.UPLOADING] if left <= 3 else
                [D.MATCHED, D.ENCRYPTED, D.UPLOADING, D.DELIVERED])
        for state in path:
            changes: dict[str, object] = {}
            if state is D.MATCHED:
                changes = {"request_id": request_id, "match_method": "folder"}
            elif state is D.ENCRYPTED:
                changes = {"ciphertext_sha256": hashlib.sha256(document_id.encode()).hexdigest()}
            elif state is D.FAILED:
                changes = {"error": "Plattform nicht erreichbar / platform not reachable", "attempts": 3}
            elif state is D.DELIVERED:
                changes = {"delivered_at": _iso(min(created + timedelta(minutes=1), now))}
            store.transition(document_id, state, **changes)
        writer.step(1 + len(path))
