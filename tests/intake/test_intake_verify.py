"""Each verification check, tested with a message built for the attack it defends
against. Real gpg, real DKIM signatures, real DNS on loopback."""

from __future__ import annotations

import json
import re
import uuid
from datetime import timedelta

from practice_client.core.models import CheckStatus, Patient, RequestRecord, RequestStatus, Verdict
from practice_client.intake.dkim_check import dns_resolver
from practice_client.intake.verify import verify_message
from practice_client.testbed.mail import dkim_sign, summary_text

from .conftest import PLATFORM, World, check_of


def assert_only_failure(result, name: str, words: str) -> None:
    check = check_of(result, name)
    assert result.verdict is Verdict.REJECTED
    assert check.status is CheckStatus.FAIL, check
    assert words.lower() in check.detail_en.lower(), check.detail_en
    assert check.detail_de and check.detail_de != check.detail_en
    others = [c for c in result.checks if c.name != name and c.status is not CheckStatus.PASS]
    assert others == [], others


def test_valid_request_is_verified_with_every_check(world: World) -> None:
    for key in (world.keys.rsa, world.keys.ed25519):
        result = world.verify(world.message(key=key))
        assert result.verdict is Verdict.VERIFIED, result.checks
        assert [c.name for c in result.checks] == [
            "dkim", "format", "consent_signature", "phone", "identity", "addressee", "freshness",
            "replay",
        ]
        assert result.patient_number == world.parties.erika.number


# -- dkim -------------------------------------------------------------------------------


def test_body_altered_after_dkim_signing_is_rejected(world: World) -> None:
    raw = world.message()
    tampered = raw.replace(b"Unterlagen: Arztbrief, Befund", b"Unterlagen: Arztbrief, Befund, alles")
    assert tampered != raw
    assert_only_failure(world.verify(tampered), "dkim", "changed after signing")


def test_valid_signature_from_a_foreign_domain_is_rejected(world: World) -> None:
    # the attacker signs with their own (valid, published) key; From claims the platform
    raw = world.message(key=world.keys.foreign)
    assert_only_failure(world.verify(raw), "dkim", "foreign domain")
    # and with From of their own domain, the sender is not the platform at all
    raw = world.message(key=world.keys.foreign, sender="Plattform <anfragen@plattform-service.test>")
    assert_only_failure(world.verify(raw), "dkim", "sender is not the platform")


def test_lookalike_from_domain_is_not_aligned(world: World) -> None:
    raw = world.message(sender=f"Plattform <anfragen@evil{PLATFORM}>")
    assert_only_failure(world.verify(raw), "dkim", "sender is not the platform")
    # a subdomain of the platform domain is aligned (documented: relaxed alignment)
    sub = world.message(sender=f"Plattform <anfragen@mail.{PLATFORM}>")
    assert world.verify(sub).verdict is Verdict.VERIFIED


def test_body_length_limit_with_appended_text_is_rejected(world: World) -> None:
    raw = world.message(length=True)
    assert b" l=" in raw or b";l=" in raw or b"\tl=" in raw
    appended = raw + b"\r\nNachtrag: bitte auch an andere@example.com senden.\r\n"
    assert_only_failure(world.verify(appended), "dkim", "covers only part")
    # even without appended text, l= is refused
    assert_only_failure(world.verify(raw), "dkim", "covers only part")


def test_from_left_out_of_h_and_swapped_is_rejected(world: World) -> None:
    raw = world.message(headers=("to", "subject", "date", "message-id", "content-type"), dkim_domain=None)
    swapped = re.sub(rb"(?m)^From: .*\r\n", b"From: Plattform <anfragen@" + PLATFORM.encode() + b">\r\n", raw)
    import dkim

    assert dkim.verify(swapped, dnsfunc=world.dnsfunc)  # dkimpy alone is fooled
    assert_only_failure(world.verify(swapped), "dkim", "not signed")


def test_duplicated_from_or_subject_is_rejected(world: World) -> None:
    raw = world.message()
    body_start = raw.index(b"\r\n\r\n")
    doubled = raw[:body_start] + b"\r\nFrom: Plattform <anfragen@platform.test>" + raw[body_start:]
    assert_only_failure(world.verify(doubled), "dkim", "twice")
    doubled = raw[:body_start] + b"\r\nSubject: Dringend" + raw[body_start:]
    assert_only_failure(world.verify(doubled), "dkim", "twice")


def test_rsa_sha1_is_rejected(world: World) -> None:
    raw = world.message(key=world.keys.sha1)
    assert b"a=rsa-sha1" in raw
    assert_only_failure(world.verify(raw), "dkim", "outdated")


def test_rsa_1024_key_is_rejected(world: World) -> None:
    raw = world.message(key=world.keys.rsa1024)
    assert_only_failure(world.verify(raw), "dkim", "too short")


def test_a_good_signature_among_bad_ones_passes(world: World) -> None:
    raw = world.message(key=world.keys.foreign)  # first a foreign signature ...
    both = dkim_sign(raw, world.keys.ed25519)  # ... then the platform's own on top
    assert world.verify(both).verdict is Verdict.VERIFIED


def test_unsigned_mail_and_unknown_selector(world: World) -> None:
    raw = world.message()
    unsigned = raw[raw.index(b"From: "):]
    assert_only_failure(world.verify(unsigned), "dkim", "not signed")
    world.dns.remove(world.keys.rsa.record_name)
    try:
        assert_only_failure(world.verify(raw), "dkim", "signature is invalid")
    finally:
        world.dns.set_txt(world.keys.rsa.record_name, world.keys.rsa.txt)


def test_signature_dated_in_the_future_is_rejected(world: World) -> None:
    raw = world.message()
    result = world.verify(raw, now=world.now - timedelta(hours=1))
    check = check_of(result, "dkim")
    assert check.status is CheckStatus.FAIL and "future" in check.detail_en


def test_signature_expiry_x_is_judged_at_the_given_time(world: World) -> None:
    signed = int(world.now.timestamp())
    raw = world.message(timestamps=(signed, signed + 3600))
    assert world.verify(raw).verdict is Verdict.VERIFIED
    result = world.verify(raw, now=world.now + timedelta(hours=2))
    check = check_of(result, "dkim")
    assert check.status is CheckStatus.FAIL and "expired" in check.detail_en


def test_unreachable_dns_is_a_temporary_failure(world: World) -> None:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:  # bound, never answers
        silent.bind(("127.0.0.1", 0))
        port = silent.getsockname()[1]
        result = verify_message(world.message(), config=world.ctx.config, store=world.ctx.store,
                                dnsfunc=dns_resolver(f"127.0.0.1:{port}", timeout=0.5), now=world.now)
    assert result.verdict is Verdict.REJECTED and result.temporary
    assert "not reachable" in check_of(result, "dkim").detail_en


def test_a_foreign_signature_cannot_make_the_verdict_temporary(world: World) -> None:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:  # bound, never answers
        silent.bind(("127.0.0.1", 0))
        port = silent.getsockname()[1]
        result = verify_message(world.message(key=world.keys.foreign), config=world.ctx.config,
                                store=world.ctx.store, dnsfunc=dns_resolver(f"127.0.0.1:{port}", timeout=0.5),
                                now=world.now)
    assert result.verdict is Verdict.REJECTED and not result.temporary
    assert "foreign domain" in check_of(result, "dkim").detail_en


# -- consent signature ---------------------------------------------------------------------


def test_consent_signed_by_another_patients_pinned_key_is_rejected(world: World) -> None:
    # Max (pinned at this practice) signs a request in Erika's name with Erika's fingerprint
    raw = world.message(signer=world.parties.max.patient)
    assert_only_failure(world.verify(raw), "consent_signature", "not signed by the patient's pinned key")


def test_consent_json_altered_after_signing_is_rejected(world: World) -> None:
    request = world.request()
    signature = world.parties.erika.patient.sign(request)
    altered = request.replace(b'"Befund"', b'"Bildgebung"')
    assert altered != request
    from practice_client.testbed.mail import build_message

    unsigned = build_message(altered, signature, sender=f"Plattform <anfragen@{PLATFORM}>",
                             recipient="praxis@example.org")
    raw = dkim_sign(unsigned, world.keys.rsa)  # the platform (or a thief of its key) re-signs
    assert_only_failure(world.verify(raw), "consent_signature", "changed after signing")


def test_unknown_patient_is_rejected(world: World) -> None:
    stranger = world.parties.stranger
    raw = world.message(world.request(stranger), signer=stranger)
    result = world.verify(raw)
    assert result.verdict is Verdict.REJECTED
    check = check_of(result, "consent_signature")
    assert check.status is CheckStatus.FAIL and "unknown patient" in check.detail_en
    assert result.patient_number is None


def test_damaged_pinned_certificate_fails_the_consent_check(world: World) -> None:
    from dataclasses import replace

    from .conftest import pin_of

    world.ctx.store.pin(replace(pin_of(world.parties.erika), certificate="kaputt"), replace=True)
    assert_only_failure(world.verify(world.message()), "consent_signature", "damaged")


def test_garbage_signature_is_a_failed_check_not_a_crash(world: World) -> None:
    from practice_client.testbed.mail import build_message

    request = world.request()
    cases = {
        b"not a signature": "format",
        b"-----BEGIN PGP SIGNATURE-----\n\nAAAA\n-----END PGP SIGNATURE-----\n": "consent_signature",
    }
    for signature, failing in cases.items():
        unsigned = build_message(request, signature, sender=f"Plattform <anfragen@{PLATFORM}>",
                                 recipient="praxis@example.org")
        result = world.verify(dkim_sign(unsigned, world.keys.rsa))
        assert result.verdict is Verdict.REJECTED
        assert check_of(result, failing).status is CheckStatus.FAIL


# -- phone -----------------------------------------------------------------------------------


def test_phone_mismatch_in_json_is_rejected(world: World) -> None:
    request = world.request(phone="+491729999999")
    raw = world.message(request, text=summary_text(request))
    assert_only_failure(world.verify(raw), "phone", "does not match")


def test_phone_mismatch_between_text_and_json_is_rejected(world: World) -> None:
    request = world.request()
    raw = world.message(request, text=summary_text(request, phone="+491729999999"))
    assert_only_failure(world.verify(raw), "phone", "differ")


def test_phone_in_other_notation_matches(world: World) -> None:
    request = world.request(phone="0171 1234567")
    raw = world.message(request, text=summary_text(request, phone="+49 (0)171 1234567"))
    assert world.verify(raw).verdict is Verdict.VERIFIED


def test_missing_master_data_phone_needs_review(world: World) -> None:
    erika = world.parties.erika
    world.ctx.store.upsert_patients(
        [Patient(erika.number, erika.patient.name, erika.patient.birth_date, None)], "test"
    )
    result = world.verify(world.message())
    assert result.verdict is Verdict.NEEDS_REVIEW
    check = check_of(result, "phone")
    assert check.status is CheckStatus.WARN and "no phone number" in check.detail_en


# -- addressee, freshness, replay ----------------------------------------------------------


def test_wrong_practice_is_rejected(world: World) -> None:
    raw = world.message(world.request(practice_id="praxis-9999"))
    assert_only_failure(world.verify(raw), "addressee", "another practice")


def test_expired_request_is_rejected(world: World) -> None:
    raw = world.message()
    assert world.verify(raw).verdict is Verdict.VERIFIED
    result = world.verify(raw, now=world.now + timedelta(days=15))
    check = check_of(result, "freshness")
    assert result.verdict is Verdict.REJECTED and check.status is CheckStatus.FAIL
    assert "expired" in check.detail_en


def test_request_created_in_the_future_is_rejected(world: World) -> None:
    future = world.request(now=world.now + timedelta(hours=2))
    assert_only_failure(world.verify(world.message(future)), "freshness", "future")
    # a small clock skew is tolerated
    skewed = world.request(now=world.now + timedelta(minutes=2))
    assert world.verify(world.message(skewed)).verdict is Verdict.VERIFIED


def test_replayed_request_id_is_rejected(world: World) -> None:
    request = world.request()
    first = world.message(request)
    digest, _ = world.ctx.store.store_message(first, "test")
    verdict = world.verify(first)
    assert verdict.verdict is Verdict.VERIFIED
    world.ctx.store.add_request(RequestRecord(
        verdict.request_id, digest, world.now.isoformat(), "test", verdict.verdict, verdict.checks,
        RequestStatus.OPEN, verdict.patient_fingerprint, verdict.patient_number, verdict.request or {},
        verdict.expires_at,
    ))
    # the same bytes again are the same message, not a replay
    assert world.verify(first).verdict is Verdict.VERIFIED
    # a new message (new DKIM signature, same signed request) is a replay
    again = world.message(request)
    assert again != first
    assert_only_failure(world.verify(again), "replay", "received before")


# -- format -----------------------------------------------------------------------------------


def test_unknown_version_and_bad_fields_are_format_failures(world: World) -> None:
    cases = {
        "version": world.request(version=2),
        "request id": world.request(request_id=str(uuid.uuid1())),
        "timestamp": world.request(created_at="2026-11-30 10:00:00"),
        "document": world.request(documents=["Arztbrief", "Alles"]),
    }
    for words, request in cases.items():
        result = world.verify(world.message(request))
        assert result.verdict is Verdict.REJECTED
        check = check_of(result, "format")
        assert check.status is CheckStatus.FAIL and words in check.detail_en.lower(), (words, check)
    extra = json.loads(world.request())
    extra["patient"]["email"] = "x@example.com"
    result = world.verify(world.message(json.dumps(extra).encode()))
    assert "unknown fields" in check_of(result, "format").detail_en


def test_duplicated_json_key_is_a_format_failure(world: World) -> None:
    request = world.request()
    doubled = request.replace(b'"practice_id"', b'"practice_id": "praxis-9999",\n  "practice_id"', 1)
    result = world.verify(world.message(doubled))
    assert "duplicated" in check_of(result, "format").detail_en


def test_details_contain_no_patient_data(world: World) -> None:
    erika = world.parties.erika.patient
    raws = [world.message(), world.message(signer=world.parties.max.patient),
            world.message(world.request(phone="+491729999999"))]
    for raw in raws:
        text = json.dumps(world.verify(raw).to_json(), ensure_ascii=False)
        for secret in (erika.name, erika.birth_date, erika.phone, "1711234567", "1729999999"):
            assert secret not in text
