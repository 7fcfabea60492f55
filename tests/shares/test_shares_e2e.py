"""Shares end to end with real parts: the testbed platform over HTTPS, a patient's app on
OpenPGP.js (or Sequoia), the practice's GnuPG, a real clamd on a unix socket with the
test's signature database, the PMS import folder read back with the project's GDT parser."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from practice_client.context import Context
from practice_client.core.gdt import parse_gdt
from practice_client.shares.events import ShareQuarantined
from practice_client.shares.job import SharesJob
from practice_client.testbed.clamd import EICAR, EICAR_SIGNATURE, RunningClamd
from practice_client.testbed.shares import ShareStore
from tests.support import pdfs
from tests.support.platform import fast_client
from tests.support.shares import run_shares, scanning_practice, share, share_state
from tests.support.worlds import World, pin_patient

pytestmark = pytest.mark.slow


@pytest.fixture
def practice(world: World, client: Context, clamd: RunningClamd, tmp_path: Path) -> Iterator[Context]:
    yield scanning_practice(world, client, clamd, tmp_path)


def test_a_clean_share_reaches_the_import_folder_with_a_gdt_record(world: World, practice: Context) -> None:
    data = pdfs.clean_pdf()
    share_id = share(world, world.patients["1001"], data, "Befund Kardiologie.pdf")
    run_shares(world, practice)
    done = share_state(practice, share_id)
    assert done.state == "handed_over", (done.reason, done.detail)
    folder = Path(practice.config.pms_import_dir)
    files = sorted(p.name for p in folder.iterdir())
    assert files == [f"1001_20261130_{share_id[:8]}.gdt", f"1001_20261130_{share_id[:8]}.pdf"]
    assert (folder / files[1]).read_bytes() == data
    (record,) = parse_gdt((folder / files[0]).read_bytes(), files[0])
    fields = {f: c for _, f, c in record.fields}
    assert fields["8000"] == "6310" and fields["3000"] == "1001" and fields["3103"] == "12081964"
    assert (fields["3101"], fields["3102"]) == ("Mustermann", "Erika")
    assert fields["6302"] == share_id and fields["6303"] == "PDF" and fields["6304"] == "Befund"
    assert fields["6305"] == str(folder / files[1])
    assert ShareStore(world.platform.data_dir).receipt_of(share_id) == "accepted"
    assert not (practice.home.root / "shares" / share_id).exists()  # nothing kept after the hand-over
    events = [e for e in practice.store.audit.entries() if e["details"].get("share_id") == share_id]
    assert [e["event"] for e in events][-6:] == ["share.verified", "share.clean", "share.handing_over",
                                                "share.handover_staged", "share.handed_over", "share.receipt_sent"]
    assert practice.store.verify_audit().ok


def test_the_eicar_share_is_quarantined_with_the_signature_name(world: World, practice: Context) -> None:
    share_id = share(world, world.patients["1001"], b"Laborwerte\n" + EICAR + b"\n", "labor.txt")
    alerts = [e for e in run_shares(world, practice) if isinstance(e, ShareQuarantined)]
    quarantined = share_state(practice, share_id)
    assert (quarantined.state, quarantined.reason, quarantined.detail) == ("quarantined", "infected", EICAR_SIGNATURE)
    assert list(Path(practice.config.pms_import_dir).iterdir()) == []
    assert [a.share_id for a in alerts] == [share_id]  # the alert names the share (and the GUI's language only)
    assert EICAR_SIGNATURE in alerts[0].message.de and EICAR_SIGNATURE in alerts[0].message.en
    assert "Quarantäne" in alerts[0].message.de and "Quarantäne" not in alerts[0].message.en
    entry = next(e for e in practice.store.audit.entries()
                 if e["event"] == "share.quarantined" and e["details"]["share_id"] == share_id)
    assert entry["details"]["signature"] == EICAR_SIGNATURE and entry["details"]["reason"] == "infected"
    assert ShareStore(world.platform.data_dir).receipt_of(share_id) is None  # staff decide first


def test_unsigned_unpinned_and_foreign_signed_shares_are_quarantined(world: World, practice: Context) -> None:
    erika, max_, gisela = (world.patients[n] for n in ("1001", "1002", "1003"))
    pin_patient(practice, world, "1002")
    cases = {
        share(world, erika, b"unsigniert\n", "a.txt", signed=False): "unsigned",
        share(world, gisela, b"nicht gepinnt\n", "b.txt"): "unpinned_signer",  # 1003 is not pinned
        # Max (pinned) signs a share whose manifest names Erika's key
        share(world, max_, b"fremd\n", "c.txt", claimed_fingerprint=erika.fingerprint): "wrong_signer",
    }
    run_shares(world, practice)
    for share_id, reason in cases.items():
        found = share_state(practice, share_id)
        assert (found.state, found.reason) == ("quarantined", reason)
        assert found.patient_number is None
    assert list(Path(practice.config.pms_import_dir).iterdir()) == []


def test_a_pdf_with_javascript_is_quarantined(world: World, practice: Context) -> None:
    share_id = share(world, world.patients["1001"], pdfs.javascript_open_action(), "befund.pdf")
    run_shares(world, practice)
    found = share_state(practice, share_id)
    assert (found.state, found.reason) == ("quarantined", "pdf_active_content")
    assert "JavaScript" in (found.detail or "")
    assert list(Path(practice.config.pms_import_dir).iterdir()) == []


def test_without_a_scanner_shares_wait_visibly_then_go_on(world: World, practice: Context, clamd: RunningClamd) -> None:
    practice.update_config(scanner="none")
    share_id = share(world, world.patients["1001"], b"Impfpass\n", "impfpass.txt")
    job = SharesJob(practice, client=lambda _ctx: fast_client(world.platform))
    job.run_once()
    waiting = share_state(practice, share_id)
    assert (waiting.state, waiting.reason) == ("waiting", "no_scanner")
    practice.update_config(scanner="clamd", clamd_address=str(clamd.socket.with_name("gone.sock")))
    job.run_once()
    unreachable = share_state(practice, share_id)
    assert (unreachable.state, unreachable.reason) == ("waiting", "scanner_unreachable")
    assert list(Path(practice.config.pms_import_dir).iterdir()) == []
    practice.update_config(clamd_address=str(clamd.socket))
    job.run_once()
    job.stop()
    assert share_state(practice, share_id).state == "handed_over"
