"""Helpers for the trust-certificate, patient and backup tests: the real command line
in a subprocess, hostile keys made with the real gpg, configured client homes."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

from practice_client.crypto.gpg import Gpg
from tests.support.cli import run_cli as run
from tests.support.patients import ERIKA as ERIKA_RECORD

# Erika (tests/support/patients.py) as SimulatedPatient.create takes her
ERIKA = {"name": ERIKA_RECORD.name, "birth_date": ERIKA_RECORD.birth_date, "phone": ERIKA_RECORD.phone}
PATIENTS_CSV = (
    "patient_number,name,birth_date,phone\n"
    '1001,"Mustermann, Erika",12.08.1964,0171 1234567\n'
    "1002,Max Muster,1970-01-01,\n"
    "1003,Hans Zwilling,1980-05-05,0151 23456789\n"
    "1004,Hans Zwilling,1980-05-05,0151 23456780\n"
)




def gpg_cli(home: Path, *args: str) -> str:
    home.mkdir(mode=0o700, parents=True, exist_ok=True)
    result = subprocess.run(
        ["gpg", "--homedir", str(home), "--batch", "--pinentry-mode", "loopback",
         "--passphrase", "", *args],
        capture_output=True, text=True, timeout=60, check=True,
    )
    return result.stdout


def first_fingerprint(home: Path) -> str:
    for line in gpg_cli(home, "--list-keys", "--with-colons").splitlines():
        if line.startswith("fpr:"):
            return line.split(":")[9]
    raise AssertionError("no key")


def expired_key(home: Path) -> tuple[str, str]:
    """A signing key with an encryption subkey, both expired in 2020."""
    faked = ("--faked-system-time", "20200101T000000")
    gpg_cli(home, *faked, "--quick-gen-key", "Old Key <old@test.invalid>", "ed25519", "sign", "1d")
    fpr = first_fingerprint(home)
    gpg_cli(home, *faked, "--quick-add-key", fpr, "cv25519", "encr", "1d")
    return fpr, gpg_cli(home, "--armor", "--export", fpr)


def sign_only_key(home: Path) -> tuple[str, str]:
    """A valid key that can sign but has no encryption subkey."""
    gpg_cli(home, "--quick-gen-key", "Sign Only <sign@test.invalid>", "ed25519", "sign", "never")
    fpr = first_fingerprint(home)
    return fpr, gpg_cli(home, "--armor", "--export", fpr)


def revoked_key(home: Path) -> tuple[str, str]:
    """A normal patient-style key, revoked with the certificate gpg made at creation."""
    gpg = Gpg(home)
    fpr = gpg.generate_key("Revoked Key", "revoked@test.invalid", "revoked-passphrase", "ed25519")
    rev = home / "openpgp-revocs.d" / f"{fpr}.rev"
    rev.write_text(rev.read_text().replace(":-----BEGIN PGP PUBLIC", "-----BEGIN PGP PUBLIC"))
    gpg_cli(home, "--import", str(rev))
    info = gpg.key_info(fpr)
    assert info is not None and info.revoked
    armored = gpg.export_public(fpr)
    gpg.kill_agent()
    return fpr, armored


def configure_home(home: Path, ident_key: Path, patients_csv: str) -> None:
    """setup --offline + a patient master data import, in ``home`` (via the env)."""
    previous = os.environ.get("PRACTICE_CLIENT_HOME")
    os.environ["PRACTICE_CLIENT_HOME"] = str(home)
    try:
        setup = run(
            "setup", "--server", "https://platform.test", "--practice-id", "praxis-1",
            "--platform-domain", "platform.test", "--ident-key", str(ident_key), "--offline",
        )
        assert setup.returncode == 0, setup.stderr
        csv = home / "patients.csv"
        csv.write_text(patients_csv)
        imported = run("patients", "import", str(csv))
        assert imported.returncode == 0, imported.stderr
        csv.unlink()
    finally:
        if previous is None:
            del os.environ["PRACTICE_CLIENT_HOME"]
        else:
            os.environ["PRACTICE_CLIENT_HOME"] = previous


def copy_home(template: Path, target: Path) -> None:
    """A configured home, copied without agent sockets (each copy runs its own agent).
    The copy shares the template's instance id, hence its keyring entries."""
    shutil.copytree(template, target, ignore=shutil.ignore_patterns("S.*", "*.lock"), dirs_exist_ok=True)


def pins() -> list[dict[str, str]]:
    listed = run("trust", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    return list(json.loads(listed.stdout)["pins"])


def audit_ok() -> bool:
    return run("audit", "verify").returncode == 0


def one_line_error(result: subprocess.CompletedProcess[str]) -> bool:
    return (
        result.returncode != 0 and result.stderr.startswith("practice-client: ")
        and result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    )
