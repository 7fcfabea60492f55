"""The ambiguity suite (issue 12): every way two patients can be mixed up, end to end
through the agent - requests through the real intake (DKIM, the patient's signature, DNS
on loopback), files through the real watcher, gpg and HTTPS upload. Each case ends with
staff (unassigned or held), both identifiers shown, and not a byte on the platform."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from practice_client.core.config import load_config
from practice_client.core.gdt import build_record
from practice_client.core.models import DocumentState, Patient, RequestStatus, Verdict
from practice_client.core.policy import read_policy
from practice_client.crypto.gpg import group_fingerprint
from tests.support.waiting import wait_for

from .conftest import PEOPLE, Practice, never_delivered

pytestmark = pytest.mark.slow


def gdt_of(key: str, birth: str | None = None) -> bytes:
    """The GDT record a PMS writes for one of the suite's patients (birth date overridable)."""
    number, name, born, _ = PEOPLE[key]
    first, surname = name.split(" ", 1)
    day = birth or f"{born[8:]}{born[5:7]}{born[:4]}"
    return build_record("6310", [("3000", number), ("3101", surname), ("3102", first), ("3103", day)])


def delivered_to(practice: Practice, document_id: str, key: str) -> bool:
    """Can patient ``key`` open the document the platform holds?"""
    stored = practice.world.platform.data_dir / "documents" / f"{document_id}.pgp"
    try:
        _, _, signed = practice.world.people[key].decrypt(stored, None, practice.world.practice_key)
    except Exception:  # noqa: BLE001 - not encrypted to this patient's key
        return False
    return signed


def wait_state(practice: Practice, document_id: str, state: DocumentState) -> None:
    wait_for(lambda: (d := practice.ctx.store.get_document(document_id)) and d.state is state,
             timeout=90, what=f"document {document_id} {state}")


def test_twins_with_the_same_name_and_birth_date(practice: Practice) -> None:
    practice.start()
    anna = practice.accepted("anna")
    practice.accepted("anna_twin")
    practice.drop("2001_03031990_befund.pdf", b"Befund Anna " * 50)
    practice.drop("scan.pdf.gdt", gdt_of("anna"))
    practice.drop("scan.pdf", b"Scan Anna " * 50)
    for doc in practice.settled(2):
        never_delivered(practice, doc, "2001 Anna Zwilling", "2002 Anna Zwilling")
    # the request's own folder is bound to one request: that stays automatic, and exact
    practice.drop("labor.pdf", b"Labor Anna " * 50, folder=anna)
    (done,) = [d for d in practice.settled(3) if d.state is DocumentState.DELIVERED]
    assert done.request_id == anna and done.match_method == "subfolder"
    assert delivered_to(practice, done.document_id, "anna")
    assert not delivered_to(practice, done.document_id, "anna_twin")


def test_same_name_other_birth_date(practice: Practice) -> None:
    practice.start()
    practice.accepted("max")
    practice.accepted("max_other")
    practice.drop("3001_07071971_brief.pdf", b"Brief " * 50)  # 3001's number, the other Max's birth date
    practice.drop("labor.pdf.gdt", gdt_of("max", birth="07071971"))
    practice.drop("labor.pdf", b"Labor " * 50)
    for doc in practice.settled(2):
        never_delivered(practice, doc, "3001 Max Mustermann", "07071971", "1960-01-31")


def test_two_accepted_requests_of_one_patient(practice: Practice) -> None:
    practice.start()
    first, second = practice.accepted("erika"), practice.accepted("erika")
    practice.drop("1001_12081964_brief.pdf", b"Brief " * 50)
    (doc,) = practice.settled()
    never_delivered(practice, doc, "2 valid requests", first, second)


def test_a_number_typo_that_is_another_patient_with_an_open_request(practice: Practice) -> None:
    practice.start()
    practice.accepted("erika")
    practice.accepted("gisela")
    practice.drop("1003_12081964_befund.pdf", b"Befund " * 50)  # for Erika: her birth date, Gisela's number
    (doc,) = practice.settled()
    never_delivered(practice, doc, "1003 Gisela Beispiel", "12081964", "1975-05-05")


def test_a_gdt_sidecar_that_disagrees_with_the_file_name(practice: Practice) -> None:
    practice.start()
    practice.accepted("erika")
    practice.accepted("gisela")
    practice.drop("1001_12081964_brief.pdf.gdt", gdt_of("gisela"))
    practice.drop("1001_12081964_brief.pdf", b"Brief " * 50)
    (doc,) = practice.settled()
    never_delivered(practice, doc, "1001 Erika Mustermann", "GDT: 1003 Gisela Beispiel")


def test_re_pin_between_accept_and_delivery(practice: Practice) -> None:
    old, new = practice.world.people["erika"].fingerprint, practice.world.people["erika_new"].fingerprint
    practice.start()
    request_id = practice.accepted("erika")
    waiting = practice.request("erika")  # arrived, not yet accepted
    practice.received(waiting)
    practice.pin("erika_new", replace=True)  # Erika has a new phone: staff pin her new key
    code, _, err = practice.cli("request", "accept", waiting)
    assert code == 1 and "no longer the patient's pinned key" in err  # signed by a key no longer hers
    practice.drop("1001_12081964_brief.pdf", b"Brief " * 50)
    (doc,) = practice.settled()
    never_delivered(practice, doc, group_fingerprint(old), group_fingerprint(new))
    assert doc.state is DocumentState.HELD and doc.request_id == request_id
    (row,) = practice.outbox()["documents"]
    assert row["held"] == {"accepted_fingerprint": old, "current_fingerprint": new}
    assert row["patient"]["pms"]["name"] == "Erika Mustermann" and "key_changed" in row["patient"]["differences"]
    code, out, _ = practice.cli("outbox")
    assert code == 0 and "held" in out and group_fingerprint(new) in out
    # a decision must name the key that is pinned now: the old one (or a typo) changes nothing
    assert practice.cli("outbox", "--send-to-new-key", doc.document_id, "--fingerprint", old)[0] == 1
    assert practice.ctx.store.get_document(doc.document_id).state is DocumentState.HELD  # type: ignore[union-attr]
    code, _, err = practice.cli("outbox", "--send-to-new-key", doc.document_id, "--fingerprint", new)
    assert code == 0, err
    wait_state(practice, doc.document_id, DocumentState.DELIVERED)
    assert delivered_to(practice, doc.document_id, "erika_new")
    assert not delivered_to(practice, doc.document_id, "erika")
    # the decision was for that document: the next one is held again, and this one staff withhold
    practice.drop("1001_12081964_labor.pdf", b"Labor " * 50)
    (held,) = [d for d in practice.settled(2) if d.state is DocumentState.HELD]
    assert practice.cli("outbox", "--withhold", held.document_id)[0] == 0
    failed = practice.ctx.store.get_document(held.document_id)
    assert failed is not None and failed.state is DocumentState.FAILED and not practice.uploaded(held.document_id)


def test_pms_record_renamed_after_the_request_arrived(practice: Practice) -> None:
    practice.start()
    request_id = practice.accepted("erika")
    practice.ctx.store.upsert_patients(
        [Patient("1001", "Erika Musterfrau", "1964-08-12", "+491711234567")], "pms-update")  # married
    practice.drop("1001_12081964_brief.pdf", b"Brief " * 50)
    practice.drop("befund.pdf", b"Befund " * 50, folder=request_id)
    for doc in practice.settled(2):
        never_delivered(practice, doc, "Erika Musterfrau", "Erika Mustermann")
    code, out, _ = practice.cli("request", "show", request_id, "--json")
    patient = json.loads(out)["patient"]
    assert code == 0 and patient["pms"]["name"] == "Erika Musterfrau"
    assert patient["certificate"]["name"] == "Erika Mustermann" and patient["claimed"]["name"] == "Erika Mustermann"
    assert patient["differs"] and "certificate_vs_pms" in patient["differences"]
    code, out, _ = practice.cli("request", "show", request_id)  # as staff read it
    assert code == 0 and "Erika Musterfrau" in out.splitlines()[1] and "DIFFERS" in out


def test_a_request_claiming_another_patients_name(practice: Practice, tmp_path: Path) -> None:
    """Max is pinned, signs with his own key and his own phone - and claims to be Erika."""
    erika = practice.world.people["erika"]
    raw = practice.message("max", name=erika.name, birth_date=erika.birth_date)
    (tmp_path / "anfrage.eml").write_bytes(raw)
    code, out, _ = practice.cli("request", "verify", str(tmp_path / "anfrage.eml"), "--json")
    verdict = json.loads(out)
    assert code == 1 and verdict["verdict"] == "rejected"
    failing = {c["name"]: c for c in verdict["checks"] if c["status"] != "pass"}
    assert list(failing) == ["identity"]
    assert "Erika Mustermann" in failing["identity"]["detail"]["en"]
    assert "Max Mustermann" in failing["identity"]["detail"]["en"]
    practice.start()
    request_id = practice.request("max", name=erika.name, birth_date=erika.birth_date)
    record = practice.received(request_id)
    assert record.verdict is Verdict.REJECTED and record.status is RequestStatus.REJECTED
    assert practice.cli("request", "accept", request_id, "--override", "--reason", "sieht gut aus")[0] == 1
    code, out, _ = practice.cli("request", "list", "--json")
    (listed,) = json.loads(out)["requests"]
    assert listed["patient"]["pms"] == {"name": "Max Mustermann", "birth_date": "1960-01-31"}  # who it really is
    assert listed["patient"]["claimed"]["name"] == "Erika Mustermann" and listed["patient"]["differs"]
    practice.drop("1001_12081964_befund.pdf", b"Befund " * 50)
    practice.drop("3001_31011960_befund.pdf", b"Befund " * 50)
    for doc in practice.settled(2):
        never_delivered(practice, doc, "no valid request")


@pytest.mark.parametrize("name", [
    "Erika \u202eMustermann",  # right-to-left override
    "Eri\u200dka Mustermann",  # zero-width joiner
    "Erika \u041custermann",  # a Cyrillic capital Em among Latin letters
])
def test_confusable_and_bidi_names(practice: Practice, name: str) -> None:
    practice.start()
    practice.request("erika", name=name)
    if practice.agent is not None:
        practice.agent.poll_now()
    (record,) = wait_for(lambda: practice.ctx.store.list_requests(), what="the request")  # type: ignore[misc]
    assert record.verdict is Verdict.REJECTED
    (problem,) = [c for c in record.checks if c.status != "pass" and c.name != "dkim"]
    assert problem.name == "format" and "patient.name" in problem.detail_en
    assert practice.cli("request", "accept", record.request_id, "--override", "--reason", "x")[0] == 1
    practice.drop("1001_12081964_befund.pdf", b"Befund " * 50)
    (doc,) = practice.settled()
    never_delivered(practice, doc, "no valid request")


def test_a_valid_number_without_or_with_a_wrong_birth_date_is_not_delivered(practice: Practice) -> None:
    practice.start()
    practice.accepted("erika")
    practice.drop("1001_Arztbrief.pdf", b"Brief " * 50)
    practice.drop("1001_13081964_Arztbrief.pdf", b"Brief " * 50)
    practice.drop("1001_2026-11-30_Befund.pdf", b"Befund " * 50)  # a document date is no birth date
    for doc in practice.settled(3):
        never_delivered(practice, doc, "1001 Erika Mustermann")
    assert practice.outbox()["matching"]["number_only"] is False


def test_the_number_alone_only_where_the_policy_allows_it(
        practice: Practice, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    policy = tmp_path / "policy.toml"
    policy.write_text("NUMBER_ONLY_MATCHING = true\n")
    monkeypatch.setenv("PRACTICE_CLIENT_POLICY", str(policy))
    practice.ctx.policy = read_policy()
    practice.ctx.config = load_config(practice.ctx.home.config, practice.ctx.policy)
    practice.start()
    request_id = practice.accepted("erika")
    practice.drop("1001_Arztbrief.pdf", b"Brief " * 50)
    practice.drop("1001_13081964_Arztbrief.pdf", b"Brief " * 50)  # a wrong birth date still stops it
    docs = {d.original_name: d for d in practice.settled(2)}
    assert docs["1001_Arztbrief.pdf"].state is DocumentState.DELIVERED
    assert docs["1001_Arztbrief.pdf"].request_id == request_id
    never_delivered(practice, docs["1001_13081964_Arztbrief.pdf"], "13081964", "1964-08-12")
    assert practice.outbox()["matching"]["number_only"] is True
