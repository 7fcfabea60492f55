"""A full run through the command line - setup, master data, trust certificates
(accepted and refused), key backup and restore - and then proof that the log files
hold none of the test patient's name, birth date, phone, file names or any key
material or secret."""

from __future__ import annotations

import os
import re
from pathlib import Path

import keyring

from practice_client.testbed.identity import IdentityAuthority
from practice_client.testbed.patient import SimulatedPatient
from tests.support.trust import run

NAME, BIRTH, PHONE = "Wilhelmine Xaverius-Quast", "1951-03-17", "+4917098765432"


def base64_lines(armored: str) -> list[str]:
    """The body lines of ASCII armor: the key material itself."""
    return [ln for ln in armored.splitlines() if re.fullmatch(r"[A-Za-z0-9+/=]{20,}", ln)]


def test_logs_hold_no_patient_data_and_no_secrets(client_home: Path, work_dir: Path) -> None:
    authority = IdentityAuthority.create(work_dir / "auth")
    ident = work_dir / "ident.asc"
    ident.write_text(authority.public_key())
    patient = SimulatedPatient.create(work_dir / "pat", NAME, BIRTH, PHONE)
    cert_name = "Xaverius-Quast-Zertifikat.trust.asc"
    cert = work_dir / cert_name
    cert.write_text(patient.trust_certificate(authority))
    csv_name = "Xaverius-Stammdaten.csv"
    csv = work_dir / csv_name
    csv.write_text(f"patient_number,name,birth_date,phone\n4711,{NAME},17.03.1951,0170 98765432\n")

    steps = [
        ("setup", "--server", "https://platform.test", "--practice-id", "p", "--platform-domain",
         "platform.test", "--ident-key", str(ident), "--offline"),
        ("patients", "import", str(csv)),
        ("patients", "list"),
        ("trust", "import", str(cert)),  # refused: no terminal, no --yes
        ("trust", "import", str(cert), "--patient-number", "9999", "--yes"),  # refused: unknown
        ("trust", "import", str(cert), "--yes"),
        ("trust", "import", str(cert), "--yes"),  # refused: already pinned
        ("trust", "list", "--json"),
        ("key", "export"),
    ]
    outcomes = [run(*step).returncode for step in steps]
    assert outcomes == [0, 0, 0, 1, 1, 0, 1, 0, 0], outcomes
    backup = work_dir / "Xaverius.backup"
    made = run("key", "backup", str(backup))
    assert made.returncode == 0, made.stderr
    recovery = made.stdout.strip().splitlines()[-1].strip()
    wrong = run("key", "restore", str(backup), "--passphrase-stdin", stdin="wrong wrong wrong\n")
    assert wrong.returncode == 1
    assert run("trust", "remove", "--yes", patient.fingerprint).returncode == 0

    logs = list((client_home / "logs").glob("*"))
    text = "".join(p.read_text(encoding="utf-8", errors="replace") for p in logs)
    assert patient.fingerprint in text  # the run was logged (identifiers only) ...
    forbidden = [NAME, "Xaverius", "Wilhelmine", BIRTH, "17.03.1951", PHONE, "98765432",
                 cert_name, csv_name, "Xaverius.backup", recovery]
    forbidden += base64_lines(patient.public_key()) + base64_lines(run("key", "export").stdout)
    forbidden += base64_lines(authority.public_key())
    service = "practice-client/" + (client_home / "instance-id").read_text().strip()
    for entry in ("practice-key-passphrase", "database-key"):
        secret = keyring.get_password(service, entry)
        assert secret, entry
        forbidden.append(secret)
    leaked = [value for value in forbidden if value and value in text]
    assert leaked == [], f"log files leak: {leaked}"
    audit = (client_home / "audit.jsonl").read_text()
    assert [value for value in forbidden if value and value in audit] == []
    assert os.environ["PRACTICE_CLIENT_HOME"] == str(client_home)
    patient.close()
    authority.close()
