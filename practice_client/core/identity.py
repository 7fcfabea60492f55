"""Who a request or a document is really about: the PMS record, the pinned
certificate and what the request claims, compared.

A request's ``patient.name`` and ``patient.birth_date`` are typed by whoever made
the request. A patient who is pinned with her own key and phone can still claim
*another* patient's name and birth date; if screens showed the claim, staff would
export that other patient's records into a folder whose documents are encrypted
to her. So everything that names a patient takes the **PMS record** (patient
number, name, birth date - the practice's own data) and the **pinned certificate**
(attested by the platform's identity check) and shows the claim only beside them,
flagged where it differs.

Names are compared in three grades (:class:`NameMatch`):

- ``same``: equal after Unicode normalisation (NFC), case, whitespace, commas and
  name order ("Mustermann, Erika" = "erika  MUSTERMANN");
- ``spelling``: equal once diacritics and German transliterations are folded
  (Müller / Mueller / Muller, ß / ss, é / e) and hyphens, apostrophes and dots are
  read as spaces - the same name written another way, for a human to confirm;
- ``different``: anything else.

Identity text with invisible characters (control, format - bidi overrides,
zero-width joiners -, private use, unassigned) or with letters of two alphabets that
have look-alikes (Latin with Cyrillic or Greek: "Мustermann" with a Cyrillic М)
is refused outright by :func:`text_problem`: such a name can look like another.

No I/O of its own: :class:`IdentityIndex` is built from lists, or asks the store it is
given for the patient numbers and birth dates it is asked about (indexed lookups, each
once), so a list of many requests costs two queries, not two per row, and matching a
document a handful, never a read of every patient.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from confusable_homoglyphs import categories

from practice_client.core.models import Document, Patient, Pin, RequestRecord

if TYPE_CHECKING:
    from practice_client.core.store import Store

# Alphabets with letters that look like each other's (TR39's confusable scripts that a
# German PMS meets): one name must not mix two of them.
LOOKALIKE_SCRIPTS = frozenset({"LATIN", "CYRILLIC", "GREEK", "ARMENIAN", "CHEROKEE", "COPTIC"})
_INVISIBLE = frozenset({"Cc", "Cf", "Co", "Cs", "Cn", "Zl", "Zp"})
_SEPARATORS = str.maketrans({c: " " for c in "-‐‑‒–—'’ʼ`´.,"})
_GERMAN = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss"})
# letters without a decomposition that are written plainly all the same (Yılmaz / Yilmaz)
_PLAIN = str.maketrans({"ı": "i", "ł": "l", "đ": "d", "ø": "o", "æ": "ae", "œ": "oe", "þ": "th"})


class NameMatch(StrEnum):
    SAME = "same"
    SPELLING = "spelling"
    DIFFERENT = "different"


def name_tokens(name: str) -> tuple[str, ...]:
    """The strict key: NFC, lower case, split on whitespace and commas, in order.
    (``lower``, not ``casefold``: "Straße" and "Strasse" are a spelling difference.)"""
    text = unicodedata.normalize("NFC", name).lower().replace(",", " ")
    return tuple(sorted(text.split()))


def _strip_marks(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


def _loose_keys(name: str) -> set[tuple[str, ...]]:
    """The name with umlauts written out (Müller -> mueller) and with every diacritic
    dropped (Müller -> muller), separators read as spaces."""
    text = unicodedata.normalize("NFC", name).lower().translate(_SEPARATORS)
    forms = {_strip_marks(text.translate(_GERMAN)), _strip_marks(text).replace("ß", "ss")}
    return {tuple(sorted(form.translate(_PLAIN).split())) for form in forms}


def compare_names(first: str, second: str) -> NameMatch:
    if name_tokens(first) == name_tokens(second):
        return NameMatch.SAME
    if _loose_keys(first) & _loose_keys(second):
        return NameMatch.SPELLING
    return NameMatch.DIFFERENT


def text_problem(text: str, *, scripts: bool = True) -> tuple[str, str] | None:
    """Why identity text must be refused (German, English), or None when it is fine."""
    if any(unicodedata.category(c) in _INVISIBLE for c in text):
        return (
            "enthält unsichtbare Steuer- oder Formatierungszeichen (z. B. Schreibrichtungswechsel)",
            "contains invisible control or formatting characters (e.g. a right-to-left override)",
        )
    if scripts:
        used = {categories.alias(c) for c in text if unicodedata.category(c)[0] == "L"}
        if len(used & LOOKALIKE_SCRIPTS) > 1:
            return (
                "mischt Alphabete mit verwechselbaren Buchstaben (z. B. lateinisch und kyrillisch)",
                "mixes alphabets with look-alike letters (e.g. Latin and Cyrillic)",
            )
    return None


# -- who a request is about ------------------------------------------------------------


@dataclass(frozen=True)
class Person:
    name: str
    birth_date: str  # ISO YYYY-MM-DD

    def to_json(self) -> dict[str, str]:
        return {"name": self.name, "birth_date": self.birth_date}


@dataclass(frozen=True)
class Certificate:
    """The identity the platform attested in the pinned trust certificate."""

    fingerprint: str
    name: str
    birth_date: str
    ident: str

    def to_json(self) -> dict[str, str]:
        return {"fingerprint": self.fingerprint, "name": self.name, "birth_date": self.birth_date,
                "ident": self.ident}


# Names of the differences, as the JSON and the GUI use them.
CLAIM_VS_PMS = "claim_vs_pms"  # the request's name or birth date is not the PMS record's
CLAIM_VS_CERTIFICATE = "claim_vs_certificate"
CERTIFICATE_VS_PMS = "certificate_vs_pms"  # e.g. the PMS record was renamed (marriage)
KEY_CHANGED = "key_changed"  # the request's key is no longer the patient's pinned key
NO_PMS_RECORD = "no_pms_record"
NOT_PINNED = "not_pinned"


def _person_match(one: Person, other: Person) -> NameMatch:
    """Birth dates must be equal; names in their grades."""
    if one.birth_date != other.birth_date:
        return NameMatch.DIFFERENT
    return compare_names(one.name, other.name)


@dataclass(frozen=True)
class PatientIdentity:
    """A request's (or a document's) patient: the PMS record first, then the pinned
    certificate, then the claim - with how each pair compares."""

    patient_number: str | None
    pms: Person | None
    certificate: Certificate | None  # the patient's pin now
    claimed: Person | None
    request_fingerprint: str | None  # the key that signed the request

    def match(self, pair: str) -> NameMatch | None:
        """How a pair compares (None when one side is missing)."""
        sides: dict[str, tuple[Person | None, Person | None]] = {
            CLAIM_VS_PMS: (self.claimed, self.pms),
            CLAIM_VS_CERTIFICATE: (self.claimed, self.certificate_person),
            CERTIFICATE_VS_PMS: (self.certificate_person, self.pms),
        }
        one, other = sides[pair]
        return None if one is None or other is None else _person_match(one, other)

    @property
    def certificate_person(self) -> Person | None:
        cert = self.certificate
        return Person(cert.name, cert.birth_date) if cert else None

    @property
    def key_changed(self) -> bool:
        return bool(self.certificate and self.request_fingerprint
                    and self.certificate.fingerprint != self.request_fingerprint)

    def differences(self) -> list[str]:
        """Everything staff must see flagged; empty when all agree exactly."""
        found = [NO_PMS_RECORD] if self.pms is None else []
        if self.certificate is None:
            found.append(NOT_PINNED)
        elif self.key_changed:
            found.append(KEY_CHANGED)
        found += [pair for pair in (CLAIM_VS_PMS, CLAIM_VS_CERTIFICATE, CERTIFICATE_VS_PMS)
                  if self.match(pair) not in (None, NameMatch.SAME)]
        return found

    @property
    def differs(self) -> bool:
        return bool(self.differences())

    def automatic_problem(self) -> tuple[str, str] | None:
        """Why no automatic decision may rest on this patient (German, English), or None.

        A spelling difference is no reason (staff saw it when they accepted); a PMS
        record that no longer fits the certificate or the claim is (the record was
        changed, e.g. renamed after a marriage, or a number was reused)."""
        if self.pms is None:
            return "Patient nicht in den Stammdaten (PVS)", "patient not in the PMS master data"
        for pair in (CERTIFICATE_VS_PMS, CLAIM_VS_PMS):
            if self.match(pair) is NameMatch.DIFFERENT:
                other = self.certificate if pair == CERTIFICATE_VS_PMS else self.claimed
                assert other is not None
                return (
                    f"PVS: {self.pms.name}, geb. {german_date(self.pms.birth_date)} – "
                    f"{'Zertifikat' if pair == CERTIFICATE_VS_PMS else 'Anfrage'}: {other.name}, "
                    f"geb. {german_date(other.birth_date)}",
                    f"PMS: {self.pms.name}, born {self.pms.birth_date} - "
                    f"{'certificate' if pair == CERTIFICATE_VS_PMS else 'request'}: {other.name}, "
                    f"born {other.birth_date}",
                )
        return None

    def to_json(self) -> dict[str, Any]:
        return {
            "patient_number": self.patient_number,
            "pms": self.pms.to_json() if self.pms else None,
            "certificate": self.certificate.to_json() if self.certificate else None,
            "claimed": self.claimed.to_json() if self.claimed else None,
            "request_fingerprint": self.request_fingerprint,
            "differs": self.differs,
            "differences": self.differences(),
        }


def german_date(iso: str) -> str:
    """``YYYY-MM-DD`` as ``TT.MM.JJJJ`` (unchanged when it is not an ISO date)."""
    if len(iso) == 10 and iso[4] == "-" and iso[7] == "-":
        return f"{iso[8:]}.{iso[5:7]}.{iso[:4]}"
    return iso


def claimed_person(record: RequestRecord) -> Person | None:
    """What the request says about its patient (None when it could not be parsed)."""
    patient = record.summary.get("patient")
    if not isinstance(patient, dict):
        return None
    name, birth = patient.get("name"), patient.get("birth_date")
    return Person(name, birth) if isinstance(name, str) and isinstance(birth, str) else None


def certificate_of(pin: Pin) -> Certificate:
    return Certificate(pin.fingerprint, pin.name, pin.birth_date, pin.ident)


class IdentityIndex:
    """The PMS records and pins of the patients asked about, for any number of requests
    and documents.

    The one way to name a request's or a document's patient (GUI lists and detail panes,
    the command line, the assign dialog, matching). Built from lists (a snapshot: what is
    not in them does not exist - pure, for the rules' tests) or on a store
    (:meth:`on_store`): then each patient number and each birth date asked about is one
    indexed lookup, asked once and kept - never a read of every patient, so a document
    costs a handful of queries whatever the size of the practice."""

    @classmethod
    def on_store(cls, store: Store) -> IdentityIndex:
        """Asks ``store`` for what it is asked, once each (keep it for one task, not longer:
        it does not see later changes)."""
        index = cls([], [])
        index._store = store
        return index

    @classmethod
    def of_numbers(cls, store: Store, numbers: Iterable[str | None]) -> IdentityIndex:
        """With the PMS records and pins of these patient numbers read at once (a page of a
        list): two indexed queries, whatever the number of patients the practice has."""
        index = cls.on_store(store)
        index.load(numbers)
        return index

    def __init__(self, patients: Iterable[Patient], pins: Iterable[Pin]) -> None:
        self._store: Store | None = None
        self._patients: dict[str, Patient | None] = {p.patient_number: p for p in patients}
        self._pins: dict[str, Pin | None] = {p.patient_number: p for p in pins}
        self._by_birth: dict[str, list[Patient]] = {}

    def load(self, numbers: Iterable[str | None]) -> None:
        """Read the records and pins of these numbers not asked about yet: two queries."""
        wanted = {n for n in numbers if n} - self._patients.keys()
        if self._store is None or not wanted:
            return
        found = self._store.patients_by_number(wanted)
        pins = self._store.pins_by("patient_number", wanted - self._pins.keys())
        self._patients.update({n: found.get(n) for n in wanted})
        self._pins.update({n: pins.get(n) for n in wanted if n not in self._pins})

    def patient(self, number: str) -> Patient | None:
        """The PMS record of this patient number (None when the PMS has none)."""
        if number not in self._patients:
            self.load([number])
        return self._patients.get(number)

    def pin(self, number: str) -> Pin | None:
        """The pin of this patient number (None when the patient is not pinned)."""
        if number not in self._pins and self._store is not None:
            self._pins[number] = self._store.pins_by("patient_number", [number]).get(number)
        return self._pins.get(number)

    def born_on(self, birth_date: str) -> list[Patient]:
        """Every PMS patient born that day (twins, namesakes)."""
        if birth_date not in self._by_birth:
            if self._store is not None:
                found = self._store.patients_born_on(birth_date)
                self._patients.update({p.patient_number: p for p in found})
            else:
                found = [p for p in self._patients.values() if p is not None and p.birth_date == birth_date]
            self._by_birth[birth_date] = found
        return self._by_birth[birth_date]

    def of_request(self, record: RequestRecord) -> PatientIdentity:
        number = record.patient_number
        patient = self.patient(number) if number else None
        pin = self.pin(number) if number else None
        return PatientIdentity(
            patient_number=number,
            pms=Person(patient.name, patient.birth_date) if patient else None,
            certificate=certificate_of(pin) if pin else None,
            claimed=claimed_person(record),
            request_fingerprint=record.accepted_fingerprint or record.patient_fingerprint,
        )

    def of_document(self, doc: Document, requests: Mapping[str, RequestRecord]) -> PatientIdentity | None:
        """The patient of the request the document goes to (None while it has none)."""
        record = requests.get(doc.request_id or "")
        return self.of_request(record) if record is not None else None
