"""The platform's identity service need not run GnuPG: trust certificates whose attestation
Sequoia, OpenPGP.js, rnp or GnuPG clearsigned import through ``trust import``; an
attestation clearsigned by another key of the same implementation, or altered after
signing, is refused with one line and pins nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from practice_client.testbed.identity import IdentityAuthority
from practice_client.testbed.patient import SimulatedPatient
from tests.interop.conftest import ERIKA_PERSON, cli, one_line_error, pinned, require_tool, set_up
from tests.interop.matrix import AUTHORITIES


@pytest.mark.parametrize("implementation", AUTHORITIES)
def test_attestation_clearsigned_by(implementation: str, client_home: Path, work_dir: Path) -> None:
    require_tool(implementation)
    authority = IdentityAuthority.create(work_dir / "ident", implementation=implementation)
    forger = IdentityAuthority.create(work_dir / "forger", implementation=implementation)
    patient = SimulatedPatient.create(work_dir / "erika", *ERIKA_PERSON)
    try:
        ident_key = work_dir / "ident.asc"
        ident_key.write_text(authority.public_key(), encoding="utf-8")
        set_up(client_home, ident_key)
        genuine = patient.trust_certificate(authority)
        forged = patient.trust_certificate(forger)
        altered = genuine.replace('"birth_date": "1964-08-12"', '"birth_date": "1964-08-21"')
        assert altered != genuine
        for attack, text in (("forged", forged), ("altered", altered)):
            path = work_dir / f"{attack}.trust.asc"
            path.write_text(text, encoding="utf-8")
            refused = cli("trust", "import", str(path), "--patient-number", "1001", "--yes")
            assert one_line_error(refused) and "not signed by the platform's identity key" in refused.err, attack
            assert pinned() == []
        path = work_dir / "erika.trust.asc"
        path.write_text(genuine, encoding="utf-8")
        imported = cli("trust", "import", str(path), "--patient-number", "1001", "--yes")
        assert imported.code == 0, imported.err
        assert pinned() == [patient.fingerprint]
    finally:
        for party in (authority, forger, patient):
            party.close()
