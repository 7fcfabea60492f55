"""Patients' apps on every OpenPGP implementation of the interoperability suite share a
document; the practice verifies each against the pinned key and hands it to the PMS."""

from __future__ import annotations

from pathlib import Path

import pytest

from practice_client.context import Context
from practice_client.core.models import Patient
from practice_client.crypto.trust import pin_certificate, verify_certificate_text
from practice_client.shares.job import SharesJob
from practice_client.testbed.clamd import RunningClamd
from practice_client.testbed.implementations import TOOLS
from practice_client.testbed.patient import SimulatedPatient
from practice_client.testbed.shares import ShareStore
from tests.conftest import require, short_tmpdir
from tests.support import pdfs
from tests.support.platform import fast_client
from tests.support.shares import skip_earlier_shares
from tests.support.worlds import World

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("implementation", sorted(TOOLS))
def test_a_share_from_each_implementation(world: World, client: Context, clamd: RunningClamd, tmp_path: Path,
                                          implementation: str) -> None:
    require(TOOLS[implementation].missing() is None, f"{implementation}: {TOOLS[implementation].missing()}")
    patient = SimulatedPatient.create(short_tmpdir("pci"), "Gisela Beispiel", "1975-05-05", "+491711234569",
                                      implementation=implementation)
    try:
        record = Patient("2001", patient.name, patient.birth_date, patient.phone)
        client.store.upsert_patients([record], "test")
        cert = verify_certificate_text(patient.trust_certificate(world.authority), "t.trust.asc",
                                       world.authority.public_key(), world.authority.fingerprint)
        pin_certificate(client, cert, record, replace=False)
        (tmp_path / "import").mkdir()
        client.update_config(pms_import_dir=str(tmp_path / "import"), scanner="clamd",
                             clamd_address=str(clamd.socket))
        skip_earlier_shares(world, client)
        data = pdfs.clean_pdf()
        shared = patient.share(data, "Impfpass.pdf", world.practice_key, "praxis-test", document_type="Befund")
        ShareStore(world.platform.data_dir).publish(shared.document, shared.manifest, shared.share_id)
        job = SharesJob(client, client=lambda _ctx: fast_client(world.platform))
        job.run_once()
        job.stop()
        done = client.store.get_share(shared.share_id)
        assert done is not None and done.state == "handed_over", (done and done.reason, done and done.detail)
        assert done.fingerprint == patient.fingerprint and done.patient_number == "2001"
        (pdf,) = (tmp_path / "import").glob("*.pdf")
        assert pdf.read_bytes() == data
    finally:
        patient.close()
