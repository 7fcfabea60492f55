"""``practice-client shares``: list and show with the PMS record, release only with the
administrator role (the policy's ``local_user_is_admin``) and a reason, discard with a
reason - each audited with its actor; bad input is one line, nothing changed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from practice_client.context import Context
from practice_client.shares.job import SharesJob
from practice_client.testbed.clamd import EICAR, RunningClamd
from tests.support.cli import run_cli
from tests.support.platform import fast_client
from tests.support.shares import scanning_practice, share
from tests.support.worlds import World

pytestmark = pytest.mark.slow


@pytest.fixture
def practice(world: World, client: Context, clamd: RunningClamd, tmp_path: Path) -> Context:
    return scanning_practice(world, client, clamd, tmp_path)


def admin_policy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    policy = tmp_path / "policy.toml"
    policy.write_text("local_user_is_admin = true\n", encoding="utf-8")
    monkeypatch.setenv("PRACTICE_CLIENT_POLICY", str(policy))


def test_list_show_release_and_discard(world: World, practice: Context, tmp_path: Path,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    infected = share(world, world.patients["1001"], EICAR, "labor.txt")
    unsigned = share(world, world.patients["1001"], b"ohne Signatur\n", "x.txt", signed=False)
    job = SharesJob(practice, client=lambda _ctx: fast_client(world.platform))
    job.run_once()
    listed = json.loads(run_cli("shares", "list", "--json").stdout)["shares"]
    by_id = {s["share_id"]: s for s in listed}
    assert by_id[infected]["reason"] == "infected" and by_id[infected]["stage"] == "content"
    assert by_id[infected]["patient"] == {"patient_number": "1001", "name": "Erika Mustermann",
                                          "birth_date": "1964-08-12"}
    assert by_id[unsigned]["patient"] is None and by_id[unsigned]["claimed"] is None  # unverified: no claims shown
    first = json.loads(run_cli("shares", "list", "--json", "--limit", "1").stdout)  # a page, newest first
    assert len(first["shares"]) == 1 and (first["total"], first["more"]) == (2, True)
    assert "1 older not shown" in run_cli("shares", "list", "--limit", "1").stdout
    only = json.loads(run_cli("shares", "list", "--json", "--state", "handed_over").stdout)
    assert (only["shares"], only["total"]) == ([], 0)
    text = run_cli("shares", "list").stdout
    assert "1001 Erika Mustermann, geb. 12.08.1964" in text and "Schadsoftware gefunden / malware found" in text

    refused = run_cli("shares", "release", infected, "--reason", "Fehlalarm")
    assert refused.returncode == 1 and "only an administrator" in refused.stderr  # staff by default
    admin_policy(tmp_path, monkeypatch)
    missing = run_cli("shares", "release", unsigned, "--reason", "Patientin angerufen")
    assert missing.returncode == 1 and "--patient-number" in missing.stderr
    wrong = run_cli("shares", "release", unsigned, "--reason", "x", "--patient-number", "1001",
                    "--birth-date", "13.08.1964")
    assert wrong.returncode == 1 and "birth date" in wrong.stderr
    assert practice.store.get_share(unsigned).state == "quarantined"  # type: ignore[union-attr]
    ok = run_cli("shares", "release", unsigned, "--reason", "Patientin angerufen", "--patient-number", "1001",
                 "--birth-date", "12.08.1964")
    assert ok.returncode == 0, ok.stderr
    job.run_once()  # a released signature problem is still scanned, then handed over
    job.stop()
    assert practice.store.get_share(unsigned).state == "handed_over"  # type: ignore[union-attr]
    gone = run_cli("shares", "discard", infected, "--reason", "Virus")
    assert gone.returncode == 0, gone.stderr
    shown = json.loads(run_cli("shares", "show", infected, "--json").stdout)
    assert shown["state"] == "discarded" and shown["receipt"] == "refused"
    release = next(e for e in practice.store.audit.entries() if e["event"] == "share.verified"
                   and e["details"]["share_id"] == unsigned and e["details"].get("input") == "released_signature")
    assert release["details"]["role"] == "admin" and release["details"]["actor"].startswith("local:")
    assert "Patientin angerufen" not in (practice.home.audit).read_text()  # staff's words stay sealed
    assert run_cli("shares", "show", "no-such-share").returncode == 1
