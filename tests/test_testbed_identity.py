"""The testbed's identity authority and simulated patient: the independent party the
client is tested against, so its own behaviour is checked here (API and CLI)."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import kill_agents, require, short_tmpdir

from practice_client.crypto.gpg import Gpg, inspect_keys, isolated
from practice_client.crypto.trust import verify_certificate_text
from practice_client.testbed.identity import IdentityAuthority
from practice_client.testbed.patient import SimulatedPatient
from tests.support.trust import ERIKA, one_line_error, run


@dataclass
class Parties:
    root: Path
    authority: IdentityAuthority
    patient: SimulatedPatient
    practice: Gpg
    practice_fpr: str
    stranger_fpr: str


@pytest.fixture(scope="module")
def parties() -> Iterator[Parties]:
    require(shutil.which("gpg") is not None, "gpg")
    root = short_tmpdir("pctb")
    practice = Gpg(root / "practice")
    practice_fpr = practice.generate_key("Praxis", "praxis@test.invalid", "practice-pass", "ed25519")
    stranger_fpr = practice.generate_key("Fremd", "fremd@test.invalid", "stranger-pass", "ed25519")
    patient = SimulatedPatient.create(root / "patient", **ERIKA)
    practice.import_keys(patient.public_key())
    yield Parties(root, IdentityAuthority.create(root / "auth"), patient, practice, practice_fpr, stranger_fpr)
    kill_agents(root)
    shutil.rmtree(root, ignore_errors=True)


def test_certificate_verifies_with_the_authority_key(parties: Parties) -> None:
    cert = parties.patient.trust_certificate(parties.authority)
    verified = verify_certificate_text(cert, "cert", parties.authority.public_key(), parties.authority.fingerprint)
    assert verified.fingerprint == parties.patient.fingerprint
    assert (verified.name, verified.birth_date, verified.phone, verified.ident) == (
        ERIKA["name"], ERIKA["birth_date"], ERIKA["phone"], "video")
    saved_on_windows = cert.replace("\n", "\r\n")  # CR LF line ends do not matter
    assert verify_certificate_text(
        saved_on_windows, "cert", parties.authority.public_key(), parties.authority.fingerprint
    ).fingerprint == parties.patient.fingerprint
    [key] = inspect_keys(parties.patient.public_key())
    assert key.can_sign and key.encryption_subkeys


def test_open_restores_the_patient_and_authority(parties: Parties) -> None:
    again = SimulatedPatient.open(parties.patient.directory)
    assert (again.fingerprint, again.name, again.birth_date, again.phone) == (
        parties.patient.fingerprint, ERIKA["name"], ERIKA["birth_date"], ERIKA["phone"])
    assert IdentityAuthority.open(parties.authority.directory).fingerprint == parties.authority.fingerprint


def test_detached_signature_covers_exactly_the_data(parties: Parties) -> None:
    data = json.dumps({"request_id": "x", "consent": "ja"}).encode()
    signature = parties.patient.sign(data)
    assert signature.startswith(b"-----BEGIN PGP SIGNATURE-----")
    with isolated([parties.patient.public_key()]) as verifier:
        good = verifier.verify_detached(data, signature)
        bad = verifier.verify_detached(data + b" ", signature)
    assert good.valid and good.signer == parties.patient.fingerprint
    assert not bad.valid


def test_decrypt_checks_the_practice_signature(parties: Parties, work_dir: Path) -> None:
    practice_key = parties.practice.export_public(parties.practice_fpr)
    signed = parties.practice.sign_encrypt_bytes(
        b"%PDF-1.7 Befund", [parties.patient.fingerprint], parties.practice_fpr, "practice-pass", "Befund.pdf")
    assert parties.patient.decrypt(signed, None, practice_key) == (b"%PDF-1.7 Befund", "Befund.pdf", True)
    source = work_dir / "doc.pgp"
    source.write_bytes(signed)
    out = work_dir / "Befund.pdf"
    assert parties.patient.decrypt(source, out, practice_key) == (b"", "Befund.pdf", True)
    assert out.read_bytes() == b"%PDF-1.7 Befund"
    forged = parties.practice.sign_encrypt_bytes(
        b"forged", [parties.patient.fingerprint], parties.stranger_fpr, "stranger-pass", "Befund.pdf")
    assert parties.patient.decrypt(forged, None, practice_key)[2] is False


def test_command_line(parties: Parties, work_dir: Path) -> None:
    auth = work_dir / "auth"
    assert run("testbed", "authority", "create", "--dir", str(auth)).returncode == 0
    assert inspect_keys((auth / "ident.asc").read_text())[0].can_sign
    pat = work_dir / "pat"
    made = run("testbed", "patient", "create", "--dir", str(pat), "--name", "Max Muster",
               "--birth-date", "1970-01-01", "--phone", "0151 23456789")
    assert made.returncode == 0, made.stderr
    assert json.loads((pat / "patient.json").read_text())["phone"] == "+4915123456789"
    twice = run("testbed", "patient", "create", "--dir", str(pat), "--name", "X", "--birth-date",
                "1970-01-01", "--phone", "0151 23456789")
    assert one_line_error(twice) and "already" in twice.stderr
    bad_phone = run("testbed", "patient", "create", "--dir", str(work_dir / "p2"), "--name", "X",
                    "--birth-date", "1970-01-01", "--phone", "0151 2")
    assert one_line_error(bad_phone)
    cert = work_dir / "max.trust.asc"
    issued = run("testbed", "patient", "certificate", "--dir", str(pat), "--authority", str(auth),
                 "--output", str(cert))
    assert issued.returncode == 0, issued.stderr
    fpr = json.loads((auth / "authority.json").read_text())["fingerprint"]
    assert verify_certificate_text(cert.read_text(), cert, (auth / "ident.asc").read_text(), fpr).name == "Max Muster"

    patient = SimulatedPatient.open(pat)
    parties.practice.import_keys(patient.public_key())
    doc = work_dir / "doc.pgp"
    doc.write_bytes(parties.practice.sign_encrypt_bytes(
        b"Laborwerte", [patient.fingerprint], parties.practice_fpr, "practice-pass", "Labor.txt"))
    key_file = work_dir / "practice.asc"
    key_file.write_text(parties.practice.export_public(parties.practice_fpr))
    out = work_dir / "out.txt"
    opened = run("testbed", "patient", "decrypt", "--dir", str(pat), str(doc), "--practice-key", str(key_file),
                 "--output", str(out))
    assert opened.returncode == 0, opened.stderr
    assert out.read_bytes() == b"Laborwerte" and "Labor.txt" in opened.stdout
    wrong_key = work_dir / "wrong.asc"
    wrong_key.write_text(parties.practice.export_public(parties.stranger_fpr))
    out.unlink()
    refused = run("testbed", "patient", "decrypt", "--dir", str(pat), str(doc), "--practice-key", str(wrong_key),
                  "--output", str(out))
    assert one_line_error(refused) and not out.exists()
    patient.close()
