"""The testbed's simulated patient on any implementation, through ``practice-client testbed``:
create with ``--implementation``, certificate, and decrypt (which keeps the plaintext only
when the practice's signature verifies); and the demo's patient, which is not GnuPG's
where another implementation is installed - and says so when it has to be."""

from __future__ import annotations

from pathlib import Path

import pytest

from practice_client.crypto.gpg import isolated
from practice_client.crypto.trust import verify_certificate_text
from practice_client.demo import Demo
from practice_client.testbed.identity import IdentityAuthority
from practice_client.testbed.implementations import OpenPgpJs, Sequoia
from practice_client.testbed.patient import SimulatedPatient
from tests.interop.conftest import cli, one_line_error, require_tool
from tests.interop.matrix import PATIENT_APPS

PERSON = ("--name", "Erika Mustermann", "--birth-date", "1964-08-12", "--phone", "0171 1234567")


@pytest.mark.parametrize("implementation", PATIENT_APPS)
def test_testbed_patient_on(implementation: str, work_dir: Path) -> None:
    require_tool(implementation)
    authority, patient_dir = work_dir / "ident", work_dir / "erika"
    assert cli("testbed", "authority", "create", "--dir", str(authority)).code == 0
    created = cli("testbed", "patient", "create", "--dir", str(patient_dir), *PERSON,
                  "--implementation", implementation)
    assert created.code == 0 and "Patientenschlüssel / patient key" in created.out, created.err
    certificate = work_dir / "erika.trust.asc"
    assert cli("testbed", "patient", "certificate", "--dir", str(patient_dir), "--authority", str(authority),
               "--output", str(certificate)).code == 0
    ident = IdentityAuthority.open(authority)
    cert = verify_certificate_text(certificate.read_text(encoding="utf-8"), certificate, ident.public_key(),
                                   ident.fingerprint)
    patient = SimulatedPatient.open(patient_dir)
    assert (cert.fingerprint, patient.implementation) == (patient.fingerprint, implementation)

    with isolated([cert.public_key]) as practice, isolated() as stranger:
        key = practice.generate_key("Praxis", "praxis@testbed.invalid", "pass phrase", "ed25519")
        other = stranger.generate_key("Fremd", "fremd@testbed.invalid", "pass phrase", "ed25519")
        stranger.import_keys(cert.public_key)
        (work_dir / "practice.asc").write_text(practice.export_public(key), encoding="ascii")
        (work_dir / "brief.pgp").write_bytes(practice.sign_encrypt_bytes(
            b"Arztbrief", [cert.fingerprint], key, "pass phrase", "Brief.pdf"))
        (work_dir / "forged.pgp").write_bytes(stranger.sign_encrypt_bytes(
            b"Arztbrief", [cert.fingerprint], other, "pass phrase", "Brief.pdf"))
    for name, good in (("brief", True), ("forged", False)):
        output = work_dir / f"{name}.out"
        opened = cli("testbed", "patient", "decrypt", "--dir", str(patient_dir), str(work_dir / f"{name}.pgp"),
                     "--practice-key", str(work_dir / "practice.asc"), "--output", str(output))
        if good:
            assert opened.code == 0 and output.read_bytes() == b"Arztbrief", opened.err
        else:
            assert one_line_error(opened) and "not validly signed by the practice key" in opened.err
            assert not output.exists()
    ident.close()
    patient.close()


def test_a_key_the_implementation_cannot_make_is_one_line(work_dir: Path) -> None:
    require_tool("sequoia")
    refused = cli("testbed", "patient", "create", "--dir", str(work_dir / "p"), *PERSON,
                  "--implementation", "sequoia", "--key-type", "p256")
    assert one_line_error(refused) and "sq 0.27 makes only" in refused.err
    assert not (work_dir / "p" / "patient.json").exists()


def demo_patient(root: Path) -> tuple[str, list[str]]:
    """The implementation the demo's patient runs on, and what the demo said about it."""
    said: list[str] = []
    demo = Demo(said.append, root=root)
    try:
        demo.create_patient()
        assert demo.patient is not None
        return demo.patient.implementation, said
    finally:
        demo.close()


def test_the_demo_patient_is_not_gnupg(work_dir: Path) -> None:
    require_tool("openpgpjs")
    implementation, said = demo_patient(work_dir)
    assert implementation == "openpgpjs" and len(said) == 1 and "app built on OpenPGP.js 6." in said[0]


def test_without_another_implementation_the_demo_says_so_and_uses_gnupg(
        work_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    require_tool("gnupg")
    monkeypatch.setattr(OpenPgpJs, "missing", classmethod(lambda cls: "node (Debian package nodejs)"))
    monkeypatch.setattr(Sequoia, "missing", classmethod(lambda cls: "sq (Debian package sq)"))
    implementation, said = demo_patient(work_dir)
    assert implementation == "gnupg" and "no OpenPGP implementation other than GnuPG available" in said[0]
    assert "node (Debian package nodejs); sq (Debian package sq)" in said[0] and "GnuPG 2." in said[1]
