"""Document size limit from the settings / the administrator's policy (``max_document_mb``):
``send`` and the GUI's add refuse with one line before anything is copied; the watched folder
moves the file to ``failed/`` with the reason. Real watchdog, real agent."""

from __future__ import annotations

from pathlib import Path

import pytest

from practice_client.cli import main
from practice_client.context import Context
from practice_client.core.config import Config
from practice_client.core.errors import PolicyLocked
from practice_client.core.policy import policy_from_mapping
from practice_client.delivery.spool import over_limit
from tests.support.delivery import assert_refused, export, ready_patient
from tests.support.worlds import World, accepted_request, documents, pin_patient, write_file

pytestmark = pytest.mark.slow
MIB = 1024 * 1024


def test_the_limit_is_inclusive_and_zero_means_none() -> None:
    assert over_limit(Config(max_document_mb=1), MIB) is None
    assert "max_document_mb" in str(over_limit(Config(max_document_mb=1), MIB + 1) or "")
    assert over_limit(Config(max_document_mb=0), 50 * 1024 * MIB) is None
    assert Config().max_document_mb == 500


def test_send_refuses_a_too_large_file_in_one_line_and_copies_nothing(
        world: World, client: Context, work_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    patient = pin_patient(client, world, "1003")
    request_id = accepted_request(client, patient.fingerprint, "1003")
    client.update_config(max_document_mb=1)
    small, big = work_dir / "Befund.pdf", work_dir / "CT.dcm"
    small.write_bytes(b"s" * 1000)
    big.write_bytes(b"b" * (MIB + 1))
    assert main(["send", str(small), str(big), "--request", request_id]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(big) in err[0] and "1 MB" in err[0] and "max_document_mb" in err[0]
    assert documents(client) == [] and not any(client.home.spool.iterdir())


def test_the_watched_folder_moves_a_too_large_file_to_failed_with_the_reason(
        world: World, client: Context, agent: object) -> None:  # noqa: F811
    ready_patient(client, world)
    client.update_config(max_document_mb=1)
    write_file(export(client) / "1001_mrt.pdf", b"m" * (MIB + 1))
    assert_refused(client, "1001_mrt.pdf", "max_document_mb")


def test_an_administrator_can_lock_the_limit(tmp_path: Path) -> None:
    from practice_client.core.config import load_config, save_settings

    policy = policy_from_mapping({"max_document_mb": 50, "locked": ["max_document_mb"]}, "policy")
    path = tmp_path / "config.toml"
    path.write_text("max_document_mb = 0\n")
    assert load_config(path, policy).max_document_mb == 50
    with pytest.raises(PolicyLocked):
        save_settings(path, {"max_document_mb": 0}, policy)
