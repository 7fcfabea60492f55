"""A workstation's window acting through the service on files picked at the workstation:
PMS master data and a trust certificate are read there, checked and stored by the service;
the fingerprint dialog shows what the service verified and pins exactly that."""

from __future__ import annotations

from pathlib import Path

import pytest

from practice_client.context import Context
from practice_client.gui.app import make_controller
from practice_client.gui.remote_controller import RemoteController
from tests.support.patients import ERIKA
from tests.support.service import ServiceProcess, pair_home, service_context
from tests.support.worlds import World

pytestmark = pytest.mark.slow


def test_master_data_and_a_trust_certificate_from_the_workstation(
        qtbot, practice: ServiceProcess, client_home: Path, world: World,  # type: ignore[no-untyped-def]  # noqa: F811
        monkeypatch: pytest.MonkeyPatch) -> None:
    pair_home(practice, client_home, "Empfang")
    ctx = Context()
    controller = make_controller(ctx)
    assert isinstance(controller, RemoteController)
    try:
        number, name, birth, phone = ERIKA.patient_number, ERIKA.name, ERIKA.birth_date, ERIKA.phone
        csv = client_home / "stamm.csv"
        csv.write_text(f"patient_number,name,birth_date,phone\n{number},{name},{birth},{phone}\n")
        with qtbot.waitSignal(controller.patientsImported, timeout=30000) as imported:
            controller.import_patients(csv)
        assert imported.args == [1]
        patient = world.patients[number]
        certificate = client_home / "erika.trust.asc"
        certificate.write_text(patient.trust_certificate(world.authority))
        with qtbot.waitSignal(controller.certificateInspected, timeout=30000) as inspected:
            controller.inspect_certificate(certificate)
        preview = inspected.args[0]
        assert preview.fingerprint == patient.fingerprint and preview.suggested_patient_number == number
        assert [c.patient_number for c in preview.candidates] == [number]
        with qtbot.waitSignal(controller.certificatePinned, timeout=30000) as pinned:
            controller.pin_certificate(preview, number, replace=False)
        assert pinned.args == [patient.fingerprint]
    finally:
        controller.shutdown()
        ctx.close()
    service = service_context(practice, monkeypatch)
    try:
        pin = service.store.get_pin(patient.fingerprint)
        assert pin is not None and pin.patient_number == number
        by = [e["details"].get("by", {}) for e in service.store.audit.entries() if e["event"] == "trust.pinned"]
        assert by and by[-1].get("workstation") == "Empfang"
    finally:
        service.close()
    assert not (client_home / "state.sqlite3").exists()
