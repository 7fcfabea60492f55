"""GUI tests' state and waiting: a realistic German practice, the big home's size, and
waiting until the window has settled (signals and worker counts, never sleeps).

The practice state is written through the real Store API (each change one transaction + audit entry),
so the pages read exactly what intake and delivery would leave behind: requests
with every verdict, documents in every state, PMS patients with and without pins.
"""

from __future__ import annotations

import contextlib
import hashlib
import secrets
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from practice_client.core.models import (
    Check,
    CheckStatus,
    Document,
    DocumentState,
    Patient,
    Pin,
    RequestRecord,
    RequestStatus,
    Verdict,
    verdict_of,
)
from practice_client.core.store import Store
from practice_client.testbed.history import HistorySize

if TYPE_CHECKING:  # the state itself needs no Qt (store tests use it too)
    from practice_client.gui.controller import Controller

CONSENT = (
    "Ich bin einverstanden, dass die Praxis mir die genannten Unterlagen Ende-zu-Ende-verschlüsselt "
    "über die Plattform übermittelt. Diese Einwilligung kann ich jederzeit widerrufen."
)

# Five years of a busy practice's documents; fewer requests and patients than the bench's
# home (the documents are what the lists must carry), so it is built in about a minute.
BIG_HOME = HistorySize(years=5, patients=1_000, pinned=800, requests=2_000, documents=50_000)

DEMO_PATIENTS = [
    Patient("10234", "Erika Mustermann", "1964-08-12", "+491711234567"),
    Patient("10871", "Hans-Jürgen Schäfer-Großkopf", "1951-02-28", None),  # no phone: needs review
    Patient("11002", "Aylin Yılmaz", "1988-11-03", "+4915123456789"),
    Patient("11230", "Jonas Weber", "2001-06-19", "+491726665554"),
    Patient("11577", "Margarete Oberstaatsanwältin-Kühn", "1939-12-24", None),
]


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _fingerprint() -> str:
    return secrets.token_hex(20).upper()


def check(name: str, status: str, de: str, en: str) -> Check:
    return Check(name, CheckStatus(status), de, en)


def good_checks() -> list[Check]:
    return [
        check("dkim", "pass", "Die E-Mail ist von der Plattform signiert.", "The e-mail is signed by the platform."),
        check("format", "pass", "Die Anfrage ist vollständig und gültig.", "The request is complete and valid."),
        check("consent_signature", "pass",
              "Die Einwilligung ist mit dem angehefteten Schlüssel der Patientin/des Patienten signiert.",
              "The consent is signed with the patient's pinned key."),
        check("phone", "pass", "Telefonnummer stimmt mit der Patientenakte überein.",
              "The phone number matches the patient record."),
        check("addressee", "pass", "Die Anfrage ist an diese Praxis gerichtet.",
              "The request is addressed to this practice."),
        check("freshness", "pass", "Die Anfrage ist noch gültig (bis 14.12.2026).",
              "The request is still valid (until 14 Dec 2026)."),
        check("replay", "pass", "Diese Anfrage wurde noch nicht bearbeitet.", "This request has not been seen before."),
    ]


def _with(checks: list[Check], replacement: Check) -> list[Check]:
    return [replacement if c.name == replacement.name else c for c in checks]


@dataclass
class DemoState:
    """What :func:`populate` created, for tests to refer to."""

    requests: dict[str, str] = field(default_factory=dict)  # label -> request id
    documents: dict[str, str] = field(default_factory=dict)  # label -> document id
    pins: dict[str, str] = field(default_factory=dict)  # patient number -> fingerprint


def add_request(
    store: Store, patient: Patient, checks: list[Check], status: RequestStatus, received: datetime,
    documents: list[str], fingerprint: str | None,
) -> str:
    request_id = str(uuid.uuid4())
    summary = {
        "version": 1, "request_id": request_id, "created_at": _iso(received),
        "expires_at": _iso(received + timedelta(days=14)), "practice_id": "praxis-1",
        "patient": {"name": patient.name, "birth_date": patient.birth_date, "phone": patient.phone or "",
                    "fingerprint": fingerprint or ""},
        "documents": documents,
        "period": {"from": "2025-01-01", "to": "2026-11-30"},
        "consent": {"text": CONSENT, "signed_at": _iso(received)},
    }
    raw = f"Message-ID: <{request_id}@platform.test>\r\n\r\n{request_id}".encode()
    digest, _new = store.store_message(raw, "imap")
    verdict = verdict_of(checks)
    initial = RequestStatus.REJECTED if verdict is Verdict.REJECTED else RequestStatus.OPEN
    store.add_request(RequestRecord(
        request_id=request_id, message_sha256=digest, received_at=_iso(received), source="imap",
        verdict=verdict, checks=checks, status=initial, patient_fingerprint=fingerprint,
        patient_number=patient.patient_number, summary=summary, expires_at=summary["expires_at"],
    ))
    if status in (RequestStatus.ACCEPTED, RequestStatus.DECLINED):
        reason = None if status is RequestStatus.ACCEPTED else "Befunde liegen noch nicht vor."
        store.decide(request_id, status, reason, override=False)
    return request_id


def add_document(store: Store, name: str, size: int, path: list[DocumentState], request_id: str | None,
                 error: str | None = None) -> str:
    document_id = str(uuid.uuid4())
    now = _iso(datetime.now(UTC))
    store.add_document(Document(
        document_id=document_id, state=DocumentState.DETECTED, original_name=name,
        source_path=f"/srv/export/{name}", size=size, sha256=hashlib.sha256(name.encode()).hexdigest(),
        created_at=now, updated_at=now,
    ))
    for state in path:
        changes: dict[str, object] = {}
        if state is DocumentState.MATCHED:
            changes = {"request_id": request_id, "match_method": "patient_number"}
        elif state is DocumentState.FAILED:
            changes = {"error": error or "Fehler", "attempts": 3}
        elif state is DocumentState.DELIVERED:
            changes = {"delivered_at": now}
        store.transition(document_id, state, **changes)
    return document_id


def populate(store: Store) -> DemoState:
    """Five patients, three pins, five requests (every verdict), documents in every state."""
    state = DemoState()
    store.upsert_patients(DEMO_PATIENTS, "praxis.gdt")
    erika, hans, aylin, jonas = DEMO_PATIENTS[:4]
    now = datetime.now(UTC).replace(microsecond=0)
    for patient in (erika, hans, aylin):
        fpr = _fingerprint()
        store.pin(Pin(fpr, patient.patient_number, patient.name, patient.birth_date, patient.phone or "+491609876543",
                      "video", _iso(now - timedelta(days=30)), _iso(now - timedelta(days=20)), "-----BEGIN PGP"))
        state.pins[patient.patient_number] = fpr
    good = good_checks()
    state.requests["accepted"] = add_request(
        store, erika, good, RequestStatus.ACCEPTED, now - timedelta(days=2), ["Arztbrief", "Laborwerte"],
        state.pins[erika.patient_number])
    state.requests["verified"] = add_request(
        store, aylin, good, RequestStatus.OPEN, now - timedelta(hours=3), ["Befund", "Bildgebung"],
        state.pins[aylin.patient_number])
    state.requests["review"] = add_request(
        store, hans,
        # exactly what intake.verify says when the PMS has no phone for the patient
        _with(good, check("phone", "warn",
                          "In den Patientenstammdaten ist keine Telefonnummer hinterlegt – bitte mit dem "
                          "Patienten abgleichen.",
                          "The patient's master data has no phone number - please confirm with the patient.")),
        RequestStatus.OPEN, now - timedelta(hours=1), ["Medikationsplan", "Arztbrief", "Laborwerte"],
        state.pins[hans.patient_number])
    state.requests["rejected"] = add_request(
        store, jonas,
        _with(_with(good, check("dkim", "fail",
                                "Die E-Mail ist nicht von der Plattform signiert – mögliche Phishing-Mail.",
                                "The e-mail is not signed by the platform – possibly a phishing e-mail.")),
              check("consent_signature", "fail", "Für diese Patientin/diesen Patienten ist kein Schlüssel angeheftet.",
                    "No key is pinned for this patient.")),
        RequestStatus.REJECTED, now - timedelta(minutes=30), ["Befund"], None)
    state.requests["declined"] = add_request(
        store, aylin, good, RequestStatus.DECLINED, now - timedelta(days=5), ["Bildgebung"],
        state.pins[aylin.patient_number])
    accepted = state.requests["accepted"]
    d = DocumentState
    state.documents["delivered"] = add_document(
        store, "10234_Arztbrief_2026-11-20.pdf", 184_320, [d.MATCHED, d.ENCRYPTED, d.UPLOADING, d.DELIVERED], accepted)
    state.documents["uploading"] = add_document(
        store, "10234_Laborwerte_November.pdf", 2_457_600, [d.MATCHED, d.ENCRYPTED, d.UPLOADING], accepted)
    state.documents["matched"] = add_document(store, "10234_Roentgen_Thorax.dcm", 48_234_496, [d.MATCHED], accepted)
    state.documents["failed"] = add_document(
        store, "10234_Befund_Kardiologie.pdf", 524_288, [d.MATCHED, d.FAILED], accepted,
        error="Plattform nicht erreichbar (Zeitüberschreitung nach 3 Versuchen)")
    state.documents["unassigned"] = add_document(store, "Scan_0042.pdf", 1_048_576, [d.UNASSIGNED], None)
    state.documents["detected"] = add_document(store, "99999_Entlassbrief.pdf", 96_000, [], None)
    return state


def add_share(store: Store, inputs: list[str], manifest: dict[str, str] | None = None,
              patient_number: str | None = None, reason: str | None = None, detail: str | None = None,
              handover: dict[str, str] | None = None) -> str:
    """A shared document taken through the shares' state machine (``inputs``, its rows in
    order) the way the job leaves it: verified with the patient, quarantined with a reason."""
    from practice_client.shares.states import apply

    share_id = str(uuid.uuid4())
    store.add_shares([(share_id, 180_000 + len(inputs) * 91_234, 912)], None)
    for event in inputs:
        changes: dict[str, object] = {}
        if event == "verified":
            changes = {"patient_number": patient_number, "fingerprint": _fingerprint(), "manifest": manifest or {},
                       "sha256": hashlib.sha256(share_id.encode()).hexdigest()}
        elif event in ("refused_signature", "refused_content"):
            changes = {"reason": reason, "detail": detail, "manifest": manifest or {},
                       "sha256": hashlib.sha256(share_id.encode()).hexdigest()}
        elif event == "handed_over":
            changes = {"handover": handover or {}, "receipt": "accepted"}
        apply(store, share_id, event, **changes)
    return share_id


def populate_shares(store: Store) -> list[str]:
    """Documents patients shared (the Eingang page): one in the PMS, one being checked, one
    with malware, one signed by a key pinned for nobody (no patient shown)."""
    def manifest(name: str, kind: str) -> dict[str, str]:
        return {"file_name": name, "document_type": kind, "document_date": "2026-11-25"}

    return [
        add_share(store, ["downloaded", "verified", "scanned_clean", "handover_started", "handed_over"],
                  manifest("Arztbrief Kardiologie.pdf", "Arztbrief"), "10234",
                  handover={"file": "/srv/pvs-import/10234_20261125_5f2c81d0.pdf",
                            "record": "/srv/pvs-import/10234_20261125_5f2c81d0.gdt"}),
        add_share(store, ["downloaded", "verified"], manifest("Impfpass.jpg", "Impfnachweis"), "11002"),
        add_share(store, ["downloaded", "verified", "refused_content"], manifest("Laborwerte.pdf", "Laborbefund"),
                  "10871", reason="infected", detail="Win.Test.EICAR_HDB-1"),
        add_share(store, ["downloaded", "refused_signature"], manifest("Befund.pdf", "Befund"),
                  reason="unpinned_signer", detail=_fingerprint()),
    ]


def refresh(qtbot, controller: Controller, full_audit_check: bool = False) -> None:  # type: ignore[no-untyped-def]
    """Bring the window up to date and wait until every read it caused has finished
    (the refresh, and the first pages of lists shown meanwhile)."""
    with qtbot.waitSignal(controller.overviewLoaded, timeout=30000):
        controller.refresh(full_audit_check=full_audit_check)
    settle(qtbot, controller)


def settle(qtbot, controller: Controller) -> None:  # type: ignore[no-untyped-def]
    """Wait until no worker job of the controller runs (pages read, refreshes applied)."""
    qtbot.waitUntil(lambda: not controller.workers.busy, timeout=30000)


@contextlib.contextmanager
def controller_under_policy(policy_text: str, folder: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Controller]:
    """A controller over the test's home with ``policy_text`` as the machine's policy (a
    page built on it shows what the administrator fixed); shut down afterwards."""
    from practice_client.context import Context
    from practice_client.gui.controller import Controller

    policy = folder / "policy.toml"
    policy.write_text(policy_text)
    monkeypatch.setenv("PRACTICE_CLIENT_POLICY", str(policy))
    ctx = Context()
    controller = Controller(ctx)
    try:
        yield controller
    finally:
        controller.shutdown()
        ctx.close()
