"""The service is the practice: set up by an admin workstation, it pins, accepts and delivers
while no GUI is connected (no feed, no workstation process at all) - the agent runs inside
the service, started at its start."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from practice_client.core.models import DocumentState, RequestStatus
from tests.support.patients import ERIKA
from tests.support.service import ServiceProcess, b64, service_context
from tests.support.waiting import wait_for
from tests.support.worlds import World, accepted_request

pytestmark = pytest.mark.slow


def test_the_service_delivers_with_no_gui_connected(practice: ServiceProcess, world: World,  # noqa: F811
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    staff = practice.workstation("staff", "Empfang", os_user="mfa")
    number, name, birth, phone = ERIKA.patient_number, ERIKA.name, ERIKA.birth_date, ERIKA.phone
    csv = f"patient_number,name,birth_date,phone\n{number},{name},{birth},{phone}\n".encode()
    staff.command("patients.import", {"name": "stamm.csv", "data": b64(csv)})
    patient = world.patients[number]
    text = patient.trust_certificate(world.authority)
    preview = staff.command("trust.inspect", {"name": "erika.trust.asc", "text": text}).result
    assert preview["fingerprint"] == patient.fingerprint and preview["suggested_patient_number"] == number
    staff.command("trust.pin", {"name": "erika.trust.asc", "text": text, "patient_number": number})
    ctx = service_context(practice, monkeypatch)
    try:
        request_id = accepted_request(ctx, patient.fingerprint, number, status=RequestStatus.OPEN)  # intake's part
        staff.command("accept", {"request_id": request_id})
        staff.close()  # no workstation talks to the service from here on
        folder = Path(ctx.config.export_dir) / request_id
        wait_for(folder.is_dir, 30, "the request's export folder")
        (folder / "befund.pdf").write_bytes(b"%PDF-1.7 Befund " + os.urandom(2000))
        delivered = wait_for(lambda: ctx.store.list_documents([DocumentState.DELIVERED]), 90, "the delivery")
        assert delivered[0].request_id == request_id
        assert len(list((world.platform.data_dir / "documents").glob("*.pgp"))) >= 2  # document + manifest
        accepted = [e for e in ctx.store.audit.entries() if e["event"] == "request.accepted"]
        assert accepted[0]["details"]["by"]["workstation"] == "Empfang"
        assert accepted[0]["details"]["by"]["os_user"] == "mfa"
    finally:
        ctx.close()
