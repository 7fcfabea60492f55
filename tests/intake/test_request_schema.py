"""The request contract as a schema: ``docs/request.schema.json`` is what intake checks, a plain
JSON Schema validator (what the platform and patients' apps use) agrees with intake, and the
rules a schema cannot state still hold."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from practice_client.intake.message import FormatProblem, parse_request_json
from practice_client.intake.request_schema import schema_problems
from practice_client.testbed.mail import request_json

ROOT = Path(__file__).resolve().parents[2]
PUBLISHED = ROOT / "docs" / "request.schema.json"
PACKAGED = ROOT / "practice_client" / "intake" / "request.schema.json"
PLAIN = Draft202012Validator(json.loads(PUBLISHED.read_text(encoding="utf-8")))


def good() -> dict[str, Any]:
    return json.loads(request_json(practice_id="praxis-4711", name="Erika Mustermann", birth_date="1964-08-12",
                                   phone="+491711234567", fingerprint="AB" * 20))


def encode(obj: Any) -> bytes:
    return json.dumps(obj, ensure_ascii=False).encode("utf-8")


def refusal(obj: Any) -> FormatProblem:
    with pytest.raises(FormatProblem) as caught:
        parse_request_json(encode(obj))
    problem = caught.value
    assert problem.detail_de and problem.detail_en and problem.detail_de != problem.detail_en
    return problem


def test_the_published_schema_is_the_one_intake_checks_and_is_valid_json_schema() -> None:
    assert PUBLISHED.read_bytes() == PACKAGED.read_bytes()
    Draft202012Validator.check_schema(json.loads(PUBLISHED.read_text(encoding="utf-8")))


def test_what_the_testbed_platform_sends_is_valid_for_both() -> None:
    request = good()
    assert list(PLAIN.iter_errors(request)) == []
    assert parse_request_json(encode(request)).request_id == request["request_id"]


MUTATIONS = {
    "unknown top field": lambda r: r.update(extra=1),
    "missing field": lambda r: r.pop("consent"),
    "unknown patient field": lambda r: r["patient"].update(email="x@example.com"),
    "version 2": lambda r: r.update(version=2),
    "version as text": lambda r: r.update(version="1"),
    "uuid1": lambda r: r.update(request_id="6fa459ea-ee8a-11ee-b5b8-0242ac120002"),
    "upper-case uuid": lambda r: r.update(request_id=r["request_id"].upper()),
    "timestamp with space": lambda r: r.update(created_at="2026-11-30 10:00:00"),
    "timestamp with offset": lambda r: r.update(created_at="2026-11-30T10:00:00+01:00"),
    "non-ASCII digits": lambda r: r.update(created_at="２０26-11-30T10:00:00Z"),
    "document twice": lambda r: r.update(documents=["Befund", "Befund"]),
    "no document": lambda r: r.update(documents=[]),
    "unknown document": lambda r: r.update(documents=["Alles"]),
    "short fingerprint": lambda r: r["patient"].update(fingerprint="AB" * 19),
    "blank name": lambda r: r["patient"].update(name="   "),
    "long name": lambda r: r["patient"].update(name="E" * 201),
    "long phone": lambda r: r["patient"].update(phone="1" * 41),
    "name with a line break": lambda r: r["patient"].update(name="Erika\nMax Muster"),
    "name with a trailing newline": lambda r: r["patient"].update(name="Erika Mustermann\n"),
    "tab in practice id": lambda r: r.update(practice_id="praxis\t4711"),
    "escape in consent": lambda r: r["consent"].update(text="ok\x1b[2J"),
    "patient not an object": lambda r: r.update(patient=["Erika"]),
    "date as number": lambda r: r["period"].update(to=20261130),
    # Python's `$` matches before a final newline: the schema's patterns must not
    "uuid with a trailing newline": lambda r: r.update(request_id=r["request_id"] + "\n"),
    "fingerprint with a trailing newline": lambda r: r["patient"].update(fingerprint="AB" * 20 + "\n"),
    "timestamp with a trailing newline": lambda r: r.update(expires_at=r["expires_at"] + "\n"),
}


@pytest.mark.parametrize("name", MUTATIONS)
def test_schema_violations_are_refused_by_intake_and_by_a_plain_validator(name: str) -> None:
    request = good()
    MUTATIONS[name](request)
    assert list(PLAIN.iter_errors(request)), f"{name}: the published schema must refuse it too"
    problem = refusal(request)
    assert "Erika" not in problem.detail_en + problem.detail_de  # fields are named, values never


@pytest.mark.parametrize(("mutate", "words"), [
    (lambda r: r.update(version=1.0), "version"),
    (lambda r: r.update(expires_at=r["created_at"]), "expires before"),
    (lambda r: r["period"].update({"from": "2026-12-01", "to": "2026-01-01"}), "period"),
    (lambda r: r["patient"].update(birth_date="1964-02-30"), "date patient.birth_date"),
    (lambda r: r.update(created_at="2026-13-01T10:00:00Z"), "timestamp created_at"),
])
def test_rules_a_schema_cannot_state_are_still_enforced(mutate: Any, words: str) -> None:
    request = good()
    mutate(request)
    assert list(PLAIN.iter_errors(request)) == []  # valid for the schema: documented in its description
    assert words in refusal(request).detail_en


def test_a_duplicated_key_is_refused_before_the_schema() -> None:
    raw = encode(good()).replace(b'"practice_id"', b'"practice_id": "praxis-9999", "practice_id"', 1)
    with pytest.raises(FormatProblem, match="duplicated"):
        parse_request_json(raw)


def test_messages_follow_a_fixed_order_shallow_first() -> None:
    request = good()
    request["patient"]["name"] = ""
    request["extra"] = True
    assert schema_problems(request)[0][1] == "request.json: request.json has missing or unknown fields."
    del request["extra"]
    assert "patient.name" in schema_problems(request)[0][1]


values = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
                      lambda children: st.lists(children, max_size=3)
                      | st.dictionaries(st.text(max_size=8), children, max_size=3), max_leaves=6)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_intake_never_accepts_what_the_published_schema_refuses(data: st.DataObject) -> None:
    request = copy.deepcopy(good())
    target: Any = request
    path = data.draw(st.sampled_from([("version",), ("request_id",), ("created_at",), ("practice_id",),
                                      ("patient", "name"), ("patient", "phone"), ("patient", "fingerprint"),
                                      ("documents",), ("period", "from"), ("consent", "text")]))
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = data.draw(values)
    if list(PLAIN.iter_errors(request)):
        refusal(request)
