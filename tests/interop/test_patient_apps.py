"""Patients' apps on every OpenPGP implementation, end to end through the real commands.

For each case of :data:`tests.interop.matrix.SUPPORTED` the patient's app - GnuPG,
Sequoia, OpenPGP.js or rnp, with a key that implementation made - goes the whole way:
its trust certificate is imported and pinned; its signed request verifies; a document
delivered to it (signed and encrypted by the client's gpg, uploaded over HTTPS) is
decrypted by that implementation to the original bytes, the manifest to the same bytes
the practice reads, and the practice's signature on both verifies. The key layouts are
checked too: a consent really signed by a subkey, a document really encrypted to the
valid subkey and not to the expired or revoked one."""

from __future__ import annotations

import hashlib
import json
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from practice_client.context import Context
from practice_client.core.paths import Home
from practice_client.testbed.implementations import TOOLS
from practice_client.testbed.mail import platform_request
from practice_client.testbed.patient import SimulatedPatient
from tests.interop.conftest import (
    PRACTICE_ID,
    InteropWorld,
    cli,
    recipients,
    require_tool,
    signature_issuers,
    subkeys,
)
from tests.interop.matrix import CASES, SUPPORTED, Case

pytestmark = pytest.mark.slow


def patient_data(case: Case) -> tuple[str, str, str, str]:
    """A PMS patient of its own per case: number, name, birth date, phone."""
    index = CASES.index(case)
    return str(3000 + index), "Erika Mustermann", f"1960-01-{index + 1:02d}", f"+4917110000{index:02d}"


def practice_reads(world: InteropWorld, ciphertext: Path) -> bytes:
    """The manifest as the practice's own GnuPG decrypts it (it is encrypted to the practice too)."""
    ctx = Context(home=Home(world.home))
    try:
        inner = ctx.home.root / "manifest.inner"
        ctx.gpg.unwrap(ciphertext, inner, ctx.practice_passphrase())
        data, check, _ = ctx.gpg.open_signed(inner)
        inner.unlink()
    finally:
        ctx.close()
    assert check.valid and check.signer == world.practice_fingerprint
    return data


@pytest.mark.parametrize("case", SUPPORTED, ids=lambda c: c.id)
def test_patient_app(case: Case, in_world: InteropWorld, work_dir: Path) -> None:
    world = in_world
    require_tool(case.implementation)
    number, name, birth, phone = patient_data(case)
    patient = SimulatedPatient.create(work_dir / "app", name, birth, phone, implementation=case.implementation,
                                      key_type=case.key_type, structure=case.structure)
    try:
        _trust_import(world, patient, number, work_dir)
        request_id = _request_verifies(world, patient, case, work_dir)
        _delivery_opens(world, patient, case, request_id, work_dir)
    finally:
        patient.close()


def _trust_import(world: InteropWorld, patient: SimulatedPatient, number: str, work: Path) -> None:
    master = work / "stammdaten.csv"
    master.write_text(f"patient_number,name,birth_date,phone\n{number},{patient.name},{patient.birth_date},"
                      f"{patient.phone}\n", encoding="utf-8")
    assert cli("patients", "import", str(master)).code == 0
    certificate = work / "patient.trust.asc"
    certificate.write_text(patient.trust_certificate(world.authority), encoding="utf-8")
    imported = cli("trust", "import", str(certificate), "--patient-number", number, "--yes")
    assert imported.code == 0, imported.err
    pins = cli("trust", "list", "--json").json()["pins"]
    assert isinstance(pins, list)
    assert {"fingerprint": patient.fingerprint, "patient_number": number}.items() <= next(
        p for p in pins if p["fingerprint"] == patient.fingerprint).items()


def _request_verifies(world: InteropWorld, patient: SimulatedPatient, case: Case, work: Path) -> str:
    signatures: list[bytes] = []

    def sign(data: bytes) -> bytes:
        signatures.append(patient.sign(data))
        return signatures[-1]

    raw = platform_request(sign, world.dkim, practice_id=PRACTICE_ID, name=patient.name,
                           birth_date=patient.birth_date, phone=patient.phone, fingerprint=patient.fingerprint)
    message = work / "anfrage.eml"
    message.write_bytes(raw)
    verified = cli("request", "verify", str(message), "--json")
    report = verified.json()
    checks = {c["name"]: c["status"] for c in report["checks"]}  # type: ignore[union-attr]
    assert (verified.code, report["verdict"], checks["consent_signature"]) == (0, "verified", "pass"), report
    if case.structure == "signing-subkey":  # the consent really was signed by a subkey
        signing = {s.keyid for s in subkeys(patient.public_key()) if "s" in s.capabilities}
        issuers = signature_issuers(signatures[0])
        assert issuers <= signing and patient.fingerprint[-16:] not in issuers
    # the platform delivers it: intake fetches it, staff accept it
    request_id = str(report["request_id"])
    arrived = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")  # the platform serves its inbox in name order
    (world.platform.data_dir / "inbox" / f"{arrived}-{request_id}.eml").write_bytes(raw)
    assert cli("request", "fetch").code == 0
    accepted = cli("request", "accept", request_id)
    assert accepted.code == 0, accepted.err
    return request_id


def _delivery_opens(world: InteropWorld, patient: SimulatedPatient, case: Case, request_id: str,
                    work: Path) -> None:
    original = os.urandom(50_000) + "Arztbrief für Erika Mustermann\n".encode()
    document = work / "Arztbrief.pdf"
    document.write_bytes(original)
    sent = cli("send", str(document), "--request", request_id)
    assert sent.code == 0, sent.out + sent.err
    (doc,) = [d for d in cli("outbox", "--json").json()["documents"]  # type: ignore[union-attr]
              if d["request_id"] == request_id]
    stored = world.platform.data_dir / "documents"
    ciphertext, sealed_manifest = stored / f"{doc['document_id']}.pgp", stored / f"{doc['document_id']}.manifest.pgp"

    data, name, signed = patient.decrypt(ciphertext, None, world.practice_key)
    assert data == original and signed
    assert name == ("Arztbrief.pdf" if TOOLS[case.implementation].reports_file_name else "")
    manifest, _, manifest_signed = patient.decrypt(sealed_manifest, None, world.practice_key)
    assert manifest_signed and manifest == practice_reads(world, sealed_manifest)
    fields = json.loads(manifest)
    assert (fields["request_id"], fields["sha256"], fields["size"]) == (
        request_id, hashlib.sha256(original).hexdigest(), len(original))

    # encrypted to the patient's valid encryption subkey (and the practice's), never another
    keys = subkeys(patient.public_key())
    usable = {s.keyid for s in keys if "e" in s.capabilities and s.validity not in ("e", "r")}
    to_patient = recipients(ciphertext.read_bytes()) - {s.keyid for s in subkeys(world.practice_key)}
    assert len(to_patient) == 1 and to_patient <= usable
    if case.structure == "expired-revoked":
        assert {s.validity for s in keys if "e" in s.capabilities} >= {"e", "r"}  # the layout is real
