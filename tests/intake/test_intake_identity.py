"""The ``identity`` check: a request's claimed name and birth date against the PMS
record and the pinned certificate, and the ``format`` check on identity text. Real
messages (DKIM, the patient's own OpenPGP signature), real DNS on loopback."""

from __future__ import annotations

from dataclasses import replace

import pytest

from practice_client.core.models import CheckStatus, Patient, Verdict

from .conftest import World, check_of, pin_of


def test_a_patient_signing_with_her_own_key_in_another_patients_name_is_rejected(world: World) -> None:
    """The attack of issue 12: Max is pinned, signs with his key, gives his own phone - and
    Erika's name and birth date. Every other check passes; this one must not."""
    max_, erika = world.parties.max.patient, world.parties.erika.patient
    raw = world.message(world.request(max_, name=erika.name, birth_date=erika.birth_date), signer=max_)
    result = world.verify(raw)
    assert result.verdict is Verdict.REJECTED
    check = check_of(result, "identity")
    assert check.status is CheckStatus.FAIL
    others = [c.name for c in result.checks if c.status is not CheckStatus.PASS]
    assert others == ["identity"]  # signature, phone, freshness... all fine: only this catches it
    for detail in (check.detail_de, check.detail_en):  # both sides, side by side
        assert erika.name in detail and max_.name in detail
    assert "12.08.1964" in check.detail_de and "1964-08-12" in check.detail_en
    assert "02.01.1970" in check.detail_de and "1970-01-02" in check.detail_en


@pytest.mark.parametrize(("name", "birth"), [("Max Muster", "1964-08-12"), ("Erika Mustermann", "1970-01-02")])
def test_half_of_another_identity_is_rejected_too(world: World, name: str, birth: str) -> None:
    """Max's own name with Erika's birth date, or Erika's name with Max's birth date."""
    max_ = world.parties.max.patient
    result = world.verify(world.message(world.request(max_, name=name, birth_date=birth), signer=max_))
    assert check_of(result, "identity").status is CheckStatus.FAIL
    assert result.verdict is Verdict.REJECTED


def test_name_order_case_and_whitespace_pass(world: World) -> None:
    for name in ("Mustermann, Erika", "ERIKA  MUSTERMANN"):
        result = world.verify(world.message(world.request(name=name)))
        assert check_of(result, "identity").status is CheckStatus.PASS, name
        assert result.verdict is Verdict.VERIFIED


def test_another_spelling_needs_review_with_both_names(world: World) -> None:
    result = world.verify(world.message(world.request(name="Erika Müstermann")))
    check = check_of(result, "identity")
    assert check.status is CheckStatus.WARN and result.verdict is Verdict.NEEDS_REVIEW
    assert "Erika Müstermann" in check.detail_de and "Erika Mustermann" in check.detail_de
    assert "spelled differently" in check.detail_en


def test_a_pms_record_renamed_since_the_pin_needs_review(world: World) -> None:
    """Married and renamed in the PMS; her certificate (and so her app) still carry the old
    name: not an attack, but staff must look - with all three versions shown."""
    erika = world.parties.erika
    world.ctx.store.upsert_patients(
        [Patient(erika.number, "Erika Musterfrau", erika.patient.birth_date, erika.patient.phone)], "test")
    result = world.verify(world.message())
    check = check_of(result, "identity")
    assert check.status is CheckStatus.WARN and result.verdict is Verdict.NEEDS_REVIEW
    assert "Erika Musterfrau" in check.detail_en and "Erika Mustermann" in check.detail_en
    assert "no longer agree" in check.detail_en


def test_unknown_patient_and_missing_pms_record(world: World) -> None:
    stranger = world.parties.stranger
    result = world.verify(world.message(world.request(stranger), signer=stranger))
    assert check_of(result, "identity").status is CheckStatus.FAIL
    assert "unknown patient" in check_of(result, "identity").detail_en
    world.ctx.store.pin(replace(pin_of(world.parties.erika), patient_number="4711"), replace=True)
    result = world.verify(world.message())
    check = check_of(result, "identity")
    assert check.status is CheckStatus.FAIL and "4711" in check.detail_en and "missing" in check.detail_en


@pytest.mark.parametrize("name", [
    "Erika \u202eMustermann", "Erika Muster\u200bmann", "Erika \u041custermann", "Erik\u0430 Mustermann",
])
def test_invisible_or_look_alike_characters_fail_the_format_check(world: World, name: str) -> None:
    result = world.verify(world.message(world.request(name=name)))
    assert result.verdict is Verdict.REJECTED
    check = check_of(result, "format")
    assert check.status is CheckStatus.FAIL and "patient.name" in check.detail_en
    assert check.detail_de != check.detail_en


def test_invisible_characters_in_the_phone_fail_the_format_check(world: World) -> None:
    erika = world.parties.erika.patient
    result = world.verify(world.message(world.request(phone=erika.phone[:4] + "\u2066" + erika.phone[4:])))
    assert check_of(result, "format").status is CheckStatus.FAIL
    assert "patient.phone" in check_of(result, "format").detail_en
