"""``outbox`` and ``request list`` page: newest first, a bounded page by default, filtered
by ``--since`` and ``--state`` in the database; ``patients list`` pages the master data in
number order; bad options are one-line errors."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from practice_client.context import Context
from practice_client.core.models import DocumentState, Patient, RequestStatus
from tests.support.cli import run_cli as run
from tests.support.gui_state import add_document, add_request, good_checks
from tests.support.patients import ERIKA

NOW = datetime.now(UTC).replace(microsecond=0)


@pytest.fixture
def home(client_home: Path) -> Iterator[Context]:
    ctx = Context()
    with ctx.store.batch():
        for day in range(120):  # four months of requests, one a day; every third accepted
            status = RequestStatus.ACCEPTED if day % 3 == 0 else RequestStatus.OPEN
            add_request(ctx.store, ERIKA, good_checks(), status, NOW - timedelta(days=day), ["Befund"], None)
        for n in range(130):
            add_document(ctx.store, f"{n:03d}.pdf", 10, [DocumentState.UNASSIGNED] if n % 2 else [], None)
    ctx.close()
    yield ctx


def listed(*args: str) -> dict[str, object]:
    result = run(*args, "--json")
    assert result.returncode == 0, result.stderr
    return dict(json.loads(result.stdout))


def test_request_list_pages_newest_first(home: Context) -> None:
    page = listed("request", "list")
    requests = page["requests"]
    assert isinstance(requests, list) and len(requests) == 100 and page["total"] == 120 and page["more"] is True
    times = [r["received_at"] for r in requests]
    assert times == sorted(times, reverse=True) and times[0] == NOW.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert listed("request", "list", "--limit", "0")["total"] == 120
    few = listed("request", "list", "--limit", "5", "--state", "accepted")
    assert [r["status"] for r in few["requests"]] == ["accepted"] * 5 and few["total"] == 40
    since = (NOW - timedelta(days=9, hours=12)).strftime("%Y-%m-%dT%H:%M:%S+00:00")
    recent = listed("request", "list", "--since", since)
    assert recent["total"] == 10 and recent["more"] is False


def test_outbox_pages_and_filters(home: Context) -> None:
    page = listed("outbox")
    assert len(page["documents"]) == 100 and page["total"] == 130 and page["more"] is True
    created = [d["created_at"] for d in page["documents"]]
    assert created == sorted(created, reverse=True)
    waiting = listed("outbox", "--state", "unassigned", "--state", "detected", "--limit", "200")
    assert waiting["total"] == 130 and waiting["more"] is False
    assert listed("outbox", "--state", "delivered")["documents"] == []
    text = run("outbox", "--limit", "3")
    assert text.returncode == 0 and "127 older not shown" in text.stdout


def test_patients_list_pages_the_master_data_in_number_order(client_home: Path) -> None:
    ctx = Context()
    try:
        ctx.store.upsert_patients([Patient(str(n), f"Patient {n}", "1970-01-01", None) for n in range(1, 251)], "test")
    finally:
        ctx.close()
    page = listed("patients", "list")
    numbers = [p["patient_number"] for p in page["patients"]]
    assert numbers == [str(n) for n in range(1, 101)] and page["total"] == 250 and page["more"] is True
    assert page["patients"][0]["name"] == "Patient 1"
    assert len(listed("patients", "list", "--limit", "0")["patients"]) == 250
    some = listed("patients", "list", "--number", "12")
    assert [p["patient_number"] for p in some["patients"]] == ["12", *(str(n) for n in range(120, 130))]
    assert some["total"] == 11 and some["more"] is False
    text = run("patients", "list", "--limit", "2")
    assert text.returncode == 0 and "248 more not shown" in text.stdout


@pytest.mark.parametrize("args", [("outbox", "--since", "yesterday"), ("request", "list", "--limit", "-1"),
                                  ("patients", "list", "--limit", "-3")])
def test_bad_paging_options_are_one_line_errors(home: Context, args: tuple[str, ...]) -> None:
    result = run(*args)
    assert result.returncode == 1 and result.stderr.count("\n") == 1 and "--" in result.stderr
