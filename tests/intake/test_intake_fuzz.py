"""Fuzzing (hypothesis) of malformed MIME, JSON and signatures: verification never
raises, and whatever cannot be parsed is ``rejected`` with a failing ``format`` check."""

from __future__ import annotations

import json
from email.message import EmailMessage
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from practice_client.core.models import CheckStatus, Verdict
from practice_client.intake.message import FormatProblem, parse_message
from practice_client.intake.verify import Verification
from practice_client.testbed.mail import build_message

from .conftest import PLATFORM, World, check_of

FUZZ = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                         HealthCheck.too_slow])
ARMORED = b"-----BEGIN PGP SIGNATURE-----\n\niHUEABYKAB0WIQ==\n=abcd\n-----END PGP SIGNATURE-----\n"

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=5),
    max_leaves=20,
)


def assert_format_rejected(result: Verification) -> None:
    assert result.verdict is Verdict.REJECTED
    check = check_of(result, "format")
    assert check.status is CheckStatus.FAIL and check.detail_de and check.detail_en


def message_with(request: bytes, signature: bytes = ARMORED) -> bytes:
    return build_message(request, signature, sender=f"Plattform <anfragen@{PLATFORM}>",
                         recipient="praxis@example.org", text="Telefon: +491711234567\n")


@FUZZ
@given(raw=st.binary(max_size=4000))
def test_random_bytes(world: World, raw: bytes) -> None:
    assert_format_rejected(world.verify(raw))


@FUZZ
@given(
    parts=st.lists(
        st.tuples(
            st.sampled_from(["text/plain", "application/json", "application/pgp-signature", "text/html",
                             "application/octet-stream", "multipart/mixed"]),
            st.sampled_from(["request.json", "request.json.sig", "x.bin", ""]),
            st.binary(max_size=300),
        ),
        max_size=5,
    ),
    outer=st.sampled_from(["multipart/mixed", "multipart/alternative", "text/plain"]),
)
def test_malformed_mime_structure(world: World, parts: list[tuple[str, str, bytes]], outer: str) -> None:
    msg = EmailMessage()
    msg["From"] = f"anfragen@{PLATFORM}"
    msg["Subject"] = "Anfrage"
    if outer == "text/plain":
        msg.set_content("Telefon: +491711234567\n")
    else:
        msg.make_mixed() if outer == "multipart/mixed" else msg.make_alternative()
        for ctype, name, payload in parts:
            maintype, subtype = ctype.split("/")
            part = EmailMessage()
            if maintype == "multipart":
                part.make_mixed()
            else:
                part.set_content(payload, maintype=maintype, subtype=subtype, filename=name or None)
            msg.attach(part)
    assert_format_rejected(world.verify(msg.as_bytes()))


@FUZZ
@given(value=json_values)
def test_arbitrary_json(world: World, value: Any) -> None:
    request = json.dumps(value).encode()
    assert_format_rejected(world.verify(message_with(request)))


@FUZZ
@given(data=st.data())
def test_valid_json_with_one_field_broken(world: World, data: st.DataObject) -> None:
    request = json.loads(world.request())
    path = data.draw(st.sampled_from([
        ("version",), ("request_id",), ("created_at",), ("expires_at",), ("practice_id",), ("documents",),
        ("patient", "name"), ("patient", "birth_date"), ("patient", "phone"), ("patient", "fingerprint"),
        ("period", "from"), ("consent", "text"), ("consent", "signed_at"), ("patient",), ("consent",),
    ]))
    target = request
    for key in path[:-1]:
        target = target[key]
    current = target[path[-1]]
    broken = data.draw(json_values.filter(lambda v: type(v) is not type(current) or not v))
    if data.draw(st.booleans()):
        target[path[-1]] = broken
    else:
        del target[path[-1]]
    assert_format_rejected(world.verify(message_with(json.dumps(request).encode())))


@FUZZ
@given(signature=st.one_of(
    st.binary(min_size=1, max_size=600),
    st.text(max_size=400).map(lambda t: ("-----BEGIN PGP SIGNATURE-----\n" + t).encode("utf-8", "replace")),
))
def test_malformed_signature_armor(world: World, signature: bytes) -> None:
    result = world.verify(message_with(world.request(), signature))
    assert result.verdict is Verdict.REJECTED
    try:
        parse_message(message_with(world.request(), signature))
    except FormatProblem:  # the parser refused it: then verify must say "format"
        assert check_of(result, "format").status is CheckStatus.FAIL
    else:
        assert check_of(result, "consent_signature").status is CheckStatus.FAIL


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                 HealthCheck.too_slow])
@given(data=st.data())
def test_mutated_signed_message_never_crashes(world: World, data: st.DataObject) -> None:
    base = getattr(world, "_fuzz_base", None)
    if base is None:
        base = world.message()
        world._fuzz_base = base  # type: ignore[attr-defined]
    start = data.draw(st.integers(0, len(base) - 1))
    end = data.draw(st.integers(start, min(len(base), start + 64)))
    mutated = base[:start] + data.draw(st.binary(max_size=16)) + base[end:]
    result = world.verify(mutated)  # must not raise
    assert result.verdict in set(Verdict)
    try:
        parse_message(mutated)
    except FormatProblem:
        assert_format_rejected(result)
