"""Matching on a real store: a document costs a handful of indexed lookups whatever the
practice's size - never a read of every PMS patient - and twins and namesakes are still
found, through the blind index of the birth date, for patients recorded before that index
existed (schema step 10) and after."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from practice_client.context import Context
from practice_client.core.audit import AuditLog, ChainKey
from practice_client.core.config import DEFAULT_FILENAME_PATTERN
from practice_client.core.identity import IdentityIndex
from practice_client.core.models import Patient, Pin, RequestStatus
from practice_client.core.store import Store
from practice_client.delivery import recipients
from practice_client.delivery.matching import GDT, PATTERN, Match, MatchData, NameRule, match_file
from tests.support.database import CIPHER, v1_database
from tests.support.gui_state import add_request, good_checks
from tests.support.patients import ERIKA

RULE = NameRule(DEFAULT_FILENAME_PATTERN)
FPR = "A" * 40
GDT_ERIKA = {"3000": "1001", "3101": "Mustermann", "3102": "Erika", "3103": "12081964"}
ERIKA_TWIN = Patient("1005", "Erika Mustermann", ERIKA.birth_date, None)
PRACTICE_SIZE = 4000


def others(count: int) -> list[Patient]:
    """A practice's other patients, born on other days than Erika."""
    first = date(1930, 1, 1)
    return [Patient(f"{50000 + n}", f"Patientin {n}", (first + timedelta(days=n % 20000)).isoformat(), None)
            for n in range(count) if (first + timedelta(days=n % 20000)).isoformat() != ERIKA.birth_date]


class Reads:
    """What a store is asked while matching: rows of ``patients`` opened (each is decrypted),
    statements that read the table - and no list of every patient or pin."""

    def __init__(self, store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
        self.opened, self.statements = 0, 0
        opened = store._patient

        def counting(row: sqlite3.Row) -> Patient:
            self.opened += 1
            return opened(row)

        def refused(*_args: Any) -> Any:
            raise AssertionError("matching read every patient or pin of the practice")

        monkeypatch.setattr(store, "_patient", counting)
        monkeypatch.setattr(store, "list_patients", refused)
        monkeypatch.setattr(store, "list_pins", refused)
        store._db.set_trace_callback(self._statement)

    def _statement(self, sql: str) -> None:
        if "FROM patients" in sql:
            self.statements += 1

    def of(self, work: Callable[[], Match]) -> tuple[Match, int, int]:
        self.opened = self.statements = 0
        found = work()
        return found, self.opened, self.statements


@pytest.fixture
def ctx(client_home: Path) -> Iterator[Context]:
    ctx = Context()
    ctx.store.upsert_patients([ERIKA], "test")
    ctx.store.pin(Pin(FPR, ERIKA.patient_number, ERIKA.name, ERIKA.birth_date, ERIKA.phone or "", "video",
                      "", "", "CERT"))
    add_request(ctx.store, ERIKA, good_checks(), RequestStatus.ACCEPTED, datetime.now(UTC), ["Befund"], FPR)
    yield ctx
    ctx.close()


def test_matching_a_document_reads_a_few_rows_whatever_the_number_of_patients(
        ctx: Context, monkeypatch: pytest.MonkeyPatch) -> None:
    """By file name and by GDT record: the same rows with thousands of patients as with one,
    through indexed lookups only."""
    reads = Reads(ctx.store, monkeypatch)

    def by_name() -> Match:
        return match_file(None, "1001_12081964_befund.pdf", None, RULE, recipients.match_data(ctx))

    def by_gdt() -> Match:
        return match_file(None, "scan.pdf", GDT_ERIKA, RULE, recipients.match_data(ctx))

    alone = [reads.of(by_name), reads.of(by_gdt)]
    ctx.store.upsert_patients(others(PRACTICE_SIZE), "test")
    assert ctx.store.patient_counts()[0] > PRACTICE_SIZE - 10
    crowded = [reads.of(by_name), reads.of(by_gdt)]
    assert [found.method for found, _, _ in crowded] == [PATTERN, GDT]
    assert crowded == alone
    for _, opened, statements in crowded:
        assert opened <= 3 and statements <= 3  # Erika by number, the patients born on her birthday


def test_twins_recorded_before_and_after_the_blind_index_are_told_apart_by_no_one(tmp_path: Path) -> None:
    """Erika was in the database before schema step 10 gave rows their birth key; her twin
    (same name, same day) is imported after it: the file name, and the GDT record, go to staff."""
    path = tmp_path / "client.db"
    v1_database(path).close()  # Erika 1001, as the first releases stored her
    store = Store(path, AuditLog(tmp_path / "audit.jsonl", ChainKey(bytes(32)), new_key=True), CIPHER)
    try:
        store.upsert_patients([ERIKA_TWIN, *others(50)], "test")
        store.pin(Pin(FPR, ERIKA.patient_number, ERIKA.name, ERIKA.birth_date, "", "video", "", "", "CERT"))
        index = IdentityIndex.on_store(store)
        assert sorted(p.patient_number for p in index.born_on(ERIKA.birth_date)) == ["1001", "1005"]
        data = MatchData([], IdentityIndex.on_store(store), datetime.now(UTC))
        for found in (match_file(None, "1001_12081964_befund.pdf", None, RULE, data),
                      match_file(None, "scan.pdf", GDT_ERIKA, RULE, data)):
            assert not found.matched
            assert "do not tell these patients apart" in found.reason.en
            assert "1001 Erika Mustermann" in found.reason.en and "1005 Erika Mustermann" in found.reason.en
    finally:
        store.close()


def test_a_new_birth_date_moves_a_patient_to_the_other_day(tmp_path: Path) -> None:
    """The PMS corrects a birth date: the patient is found on the new day, not the old."""
    store = Store(tmp_path / "state.db", AuditLog(tmp_path / "audit.jsonl", ChainKey(bytes(32)), new_key=True),
                  CIPHER)
    try:
        store.upsert_patients([ERIKA, ERIKA_TWIN], "test")
        store.upsert_patients([Patient("1005", ERIKA_TWIN.name, "1964-08-13", None)], "test")
        assert [p.patient_number for p in store.patients_born_on(ERIKA.birth_date)] == ["1001"]
        assert [p.patient_number for p in store.patients_born_on("1964-08-13")] == ["1005"]
        assert store.patients_born_on("2000-01-01") == []
    finally:
        store.close()
