"""RFC 9580 keys the machine's GnuPG (2.2) cannot use - OpenPGP.js 6 makes them: a v6 key
(``config.v6Keys``) and a v4 key with RFC 9580's own Ed25519/X25519 algorithms. Their trust
import is refused with one line that says why; nothing is pinned, nothing imported, the
audit log intact, no traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from practice_client.context import Context
from practice_client.crypto.packets import newer_formats
from practice_client.testbed.identity import IdentityAuthority
from practice_client.testbed.patient import SimulatedPatient
from tests.interop.conftest import ERIKA_PERSON, cli, one_line_error, pinned, require_tool, set_up
from tests.interop.matrix import REFUSED, Case

WHY = {"v6": "a v6 public key (RFC 9580)", "rfc9580-v4": "an Ed25519 public key (RFC 9580 algorithm 27)"}


@pytest.mark.parametrize("case", REFUSED, ids=lambda c: c.id)
def test_gnupg_cannot_use(case: Case, client_home: Path, work_dir: Path) -> None:
    require_tool(case.implementation)
    authority = IdentityAuthority.create(work_dir / "ident")
    patient = SimulatedPatient.create(work_dir / "erika", *ERIKA_PERSON, implementation=case.implementation,
                                      key_type=case.key_type)
    try:
        ident_key = work_dir / "ident.asc"
        ident_key.write_text(authority.public_key(), encoding="utf-8")
        set_up(client_home, ident_key)
        assert newer_formats(patient.public_key())[0] == WHY[case.key_type]
        certificate = work_dir / "erika.trust.asc"
        certificate.write_text(patient.trust_certificate(authority), encoding="utf-8")
        refused = cli("trust", "import", str(certificate), "--patient-number", "1001", "--yes")
        assert one_line_error(refused), refused.err
        assert f"the patient's key is {WHY[case.key_type]}, which GnuPG 2." in refused.err
        assert "cannot use" in refused.err
        assert pinned() == []
        ctx = Context()
        try:
            assert ctx.gpg.key_info(patient.fingerprint) is None
        finally:
            ctx.close()
        assert cli("audit", "verify").code == 0
    finally:
        authority.close()
        patient.close()
