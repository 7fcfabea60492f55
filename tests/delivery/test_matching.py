"""The matching rules, as pure functions: DESIGN.md's order, and never a guess."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from practice_client.core.config import DEFAULT_FILENAME_PATTERN
from practice_client.core.models import Patient, RequestRecord, RequestStatus, Verdict
from practice_client.delivery.matching import GDT, PATTERN, SUBFOLDER, MatchData, match_file

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
FPR_A, FPR_B = "A" * 40, "B" * 40
ERIKA = Patient("1001", "Erika Mustermann", "1964-08-12", "+491711234567")
MAX = Patient("1002", "Max Mustermann", "1960-01-31", None)
GDT_ERIKA = {"3000": "1001", "3101": "Mustermann", "3102": "Erika", "3103": "12081964"}


def request(fpr: str, status: RequestStatus = RequestStatus.ACCEPTED, expires_in: float = 3600) -> RequestRecord:
    rid = str(uuid.uuid4())
    return RequestRecord(
        request_id=rid, message_sha256=rid, received_at="", source="test", verdict=Verdict.VERIFIED,
        checks=[], status=status, patient_fingerprint=fpr, patient_number=None, summary={},
        expires_at=(NOW + timedelta(seconds=expires_in)).strftime("%Y-%m-%dT%H:%M:%SZ"),
    )


def data(*requests: RequestRecord) -> MatchData:
    return MatchData(list(requests), {"1001": FPR_A, "1002": FPR_B},
                     {"1001": ERIKA, "1002": MAX}, NOW)


def match(name: str, snapshot: MatchData, folder: str | None = None, sidecar: dict[str, str] | None = None):
    return match_file(folder, name, sidecar, DEFAULT_FILENAME_PATTERN, snapshot)


def test_subfolder_comes_first() -> None:
    a, b = request(FPR_A), request(FPR_B)
    found = match("1002_brief.pdf", data(a, b), folder=a.request_id)
    assert (found.request_id, found.method) == (a.request_id, SUBFOLDER)


def test_subfolder_of_a_request_not_accepted_or_expired_or_unknown() -> None:
    declined, expired = request(FPR_A, RequestStatus.DECLINED), request(FPR_A, expires_in=-1)
    snapshot = data(declined, expired)
    for folder in (declined.request_id, expired.request_id, str(uuid.uuid4())):
        found = match("1001_brief.pdf", snapshot, folder=folder)
        assert not found.matched and found.reason


def test_folder_that_is_not_a_request_id_falls_through() -> None:
    a = request(FPR_A)
    found = match("1001_brief.pdf", data(a), folder="2026")
    assert (found.request_id, found.method) == (a.request_id, PATTERN)


def test_pattern_needs_exactly_one_open_request() -> None:
    a = request(FPR_A)
    assert match("1001_brief.pdf", data(a)).request_id == a.request_id
    assert not match("1001_brief.pdf", data(a, request(FPR_A))).matched  # two: never guess
    assert not match("1001_brief.pdf", data(request(FPR_A, RequestStatus.OPEN))).matched
    assert not match("1001_brief.pdf", data(request(FPR_A, expires_in=-5))).matched
    assert not match("1001_brief.pdf", data(request(FPR_B))).matched  # another patient's


def test_pattern_for_a_number_without_a_pin() -> None:
    snapshot = MatchData([request(FPR_A)], {}, {"1001": ERIKA}, NOW)
    found = match("1001_brief.pdf", snapshot)
    assert not found.matched and "trust certificate" in found.reason


def test_names_the_pattern_does_not_cover() -> None:
    a = request(FPR_A)
    for name in ("brief.pdf", "Befund_1001.pdf", "1001.pdf", "9999_brief.pdf", "_1001_x.pdf"):
        assert not match(name, data(a)).matched, name


def test_custom_pattern() -> None:
    a = request(FPR_A)
    found = match_file(None, "Brief-P1001-2026.pdf", None, r"^Brief-P(?P<patient_number>\d+)-.*$", data(a))
    assert found.request_id == a.request_id
    assert not match_file(None, "x.pdf", None, r"(unclosed", data(a)).matched  # a bad pattern never matches


def test_gdt_sidecar() -> None:
    a = request(FPR_A)
    found = match("scan.pdf", data(a), sidecar=GDT_ERIKA)
    assert (found.request_id, found.method) == (a.request_id, GDT)


def test_gdt_cross_check_against_master_data() -> None:
    a = request(FPR_A)
    for wrong in ({"3102": "Max"}, {"3103": "13081964"}, {"3000": "9999"}, {"3000": ""}):
        found = match("scan.pdf", data(a), sidecar={**GDT_ERIKA, **wrong})
        assert not found.matched and found.reason, wrong
    assert not match("scan.pdf", data(a), sidecar={"3000": "1001"}).matched  # nothing to cross-check
    assert match("scan.pdf", data(a), sidecar={**GDT_ERIKA, "3101": "MUSTERMANN"}).matched


def test_pattern_and_sidecar_naming_two_patients_is_unassigned() -> None:
    found = match("1002_brief.pdf", data(request(FPR_A), request(FPR_B)), sidecar=GDT_ERIKA)
    assert not found.matched and "different patients" in found.reason


def test_pattern_and_sidecar_agreeing() -> None:
    a = request(FPR_A)
    assert match("1001_brief.pdf", data(a), sidecar=GDT_ERIKA).request_id == a.request_id


def test_nothing_matches_is_unassigned_with_a_reason() -> None:
    found = match("scan_0001.pdf", data(request(FPR_A)))
    assert not found.matched and found.method is None and found.reason
