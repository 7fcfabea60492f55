"""Who a request is about: names compared in grades, identity text that can pass for
another refused, and a request's patient as the PMS record with the pin and the claim."""

from __future__ import annotations

import pytest

from practice_client.core.identity import (
    CERTIFICATE_VS_PMS,
    CLAIM_VS_CERTIFICATE,
    CLAIM_VS_PMS,
    KEY_CHANGED,
    NO_PMS_RECORD,
    IdentityIndex,
    NameMatch,
    compare_names,
    text_problem,
)
from practice_client.core.models import Patient, Pin, RequestRecord, RequestStatus, Verdict
from tests.support.patients import ERIKA

PIN = Pin("A" * 40, "1001", "Erika Mustermann", "1964-08-12", "+491711234567", "video", "", "", "")


@pytest.mark.parametrize(("first", "second", "grade"), [
    ("Erika Mustermann", "Mustermann, Erika", NameMatch.SAME),  # name order, comma
    ("Erika Mustermann", "  erika   MUSTERMANN ", NameMatch.SAME),  # case, whitespace
    ("Jürgen Müller", "Ju\u0308rgen Mu\u0308ller", NameMatch.SAME),  # NFD from a Mac is the same text
    ("Jürgen Müller", "Juergen Mueller", NameMatch.SPELLING),  # transliteration
    ("Jürgen Müller", "Jurgen Muller", NameMatch.SPELLING),  # diacritics dropped
    ("Grete Straße", "Grete Strasse", NameMatch.SPELLING),  # ß / ss
    ("Hans-Jürgen Schäfer-Großkopf", "Hans Jürgen Schäfer Grosskopf", NameMatch.SPELLING),
    ("René Lefèvre", "Rene Lefevre", NameMatch.SPELLING),
    ("Aylin Yılmaz", "Aylin Yilmaz", NameMatch.SPELLING),
    ("Mueller Max", "Muller Max", NameMatch.DIFFERENT),  # not one spelling of the other
    ("Erika Mustermann", "Erika Musterfrau", NameMatch.DIFFERENT),  # a change of name
    ("Erika Mustermann", "Erika Maria Mustermann", NameMatch.DIFFERENT),
    ("Erika Mustermann", "Gisela Beispiel", NameMatch.DIFFERENT),
])
def test_names_are_compared_in_grades(first: str, second: str, grade: NameMatch) -> None:
    assert compare_names(first, second) is grade
    assert compare_names(second, first) is grade


@pytest.mark.parametrize("name", [
    "Erika \u202eMustermann",  # right-to-left override
    "Eri\u200bka Mustermann",  # zero-width space
    "Erika\u2066 Mustermann",  # left-to-right isolate
    "Erika Muster\u00admann",  # soft hyphen (format)
    "Erika\nMustermann",
    "Erika Mustermann\ue000",  # private use
    "Erika \u041custermann",  # Cyrillic capital Em
    "\u0395rika Mustermann",  # Greek capital Epsilon
    "Erikа Mustermann",  # Cyrillic small a
])
def test_identity_text_that_can_pass_for_another_is_refused(name: str) -> None:
    problem = text_problem(name)
    assert problem is not None and problem[0] and problem[1] and problem[0] != problem[1]


@pytest.mark.parametrize("name", [
    "Erika Mustermann", "Hans-Jürgen Schäfer-Großkopf", "Zoë O'Neil", "Nguyễn Văn An",
    "Γιώργος Παπαδόπουλος", "Иван Петров", "山田 花子", "Li 李",
])
def test_names_of_one_alphabet_pass(name: str) -> None:
    assert text_problem(name) is None


def record(claimed: tuple[str, str] | None, number: str | None = "1001", fingerprint: str = "A" * 40,
           accepted: str | None = None) -> RequestRecord:
    summary = {"patient": {"name": claimed[0], "birth_date": claimed[1]}} if claimed else {}
    return RequestRecord("r", "m", "", "imap", Verdict.VERIFIED, [], RequestStatus.ACCEPTED, fingerprint,
                         number, summary, None, accepted_fingerprint=accepted)


def test_a_request_that_agrees_everywhere() -> None:
    identity = IdentityIndex([ERIKA], [PIN]).of_request(record(("Mustermann, Erika", "1964-08-12")))
    assert identity.pms is not None and identity.pms.name == "Erika Mustermann"
    assert identity.differences() == [] and not identity.differs
    assert identity.automatic_problem() is None
    data = identity.to_json()
    assert data["pms"] == {"name": "Erika Mustermann", "birth_date": "1964-08-12"}
    assert data["certificate"]["fingerprint"] == "A" * 40 and data["claimed"]["name"] == "Mustermann, Erika"


def test_the_attack_another_patients_name_is_flagged_against_pms_and_certificate() -> None:
    identity = IdentityIndex([ERIKA], [PIN]).of_request(record(("Gisela Beispiel", "1975-05-05")))
    assert identity.match(CLAIM_VS_PMS) is NameMatch.DIFFERENT
    assert identity.differences() == [CLAIM_VS_PMS, CLAIM_VS_CERTIFICATE]
    problem = identity.automatic_problem()
    assert problem is not None and "Erika Mustermann" in problem[1] and "Gisela Beispiel" in problem[1]


def test_a_renamed_pms_record_and_a_changed_key() -> None:
    married = Patient("1001", "Erika Musterfrau", "1964-08-12", None)
    identity = IdentityIndex([married], [PIN]).of_request(
        record(("Erika Mustermann", "1964-08-12"), accepted="B" * 40))
    assert identity.differences() == [KEY_CHANGED, CLAIM_VS_PMS, CERTIFICATE_VS_PMS]
    problem = identity.automatic_problem()
    assert problem is not None and "Musterfrau" in problem[0] and "Zertifikat" in problem[0]


def test_a_spelling_difference_is_shown_but_stops_nothing() -> None:
    identity = IdentityIndex([ERIKA], [PIN]).of_request(record(("Erika Müstermann", "1964-08-12")))
    assert identity.match(CLAIM_VS_PMS) is NameMatch.SPELLING and identity.differs
    assert identity.automatic_problem() is None


def test_no_pms_record() -> None:
    identity = IdentityIndex([], [PIN]).of_request(record(("Erika Mustermann", "1964-08-12")))
    assert identity.pms is None and NO_PMS_RECORD in identity.differences()
    assert identity.automatic_problem() is not None


def test_twins_and_namesakes_by_birth_date() -> None:
    anna, lena = Patient("1", "Anna Z", "1990-03-03", None), Patient("2", "Lena Z", "1990-03-03", None)
    index = IdentityIndex([anna, lena, ERIKA], [])
    assert {p.patient_number for p in index.born_on("1990-03-03")} == {"1", "2"}
    assert index.born_on("2000-01-01") == []
