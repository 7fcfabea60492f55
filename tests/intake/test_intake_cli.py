"""``practice-client request ...`` through the real command line: exit codes, --json,
one-line errors, and ``request verify`` changing nothing at all."""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
from pathlib import Path

from practice_client.core.models import Patient
from practice_client.intake.inbox import Inbox
from tests.support.cli import run_cli as run

from .conftest import World


def snapshot(home: Path) -> tuple[str, str]:
    """The audit log's bytes and the database's logical content."""
    audit = hashlib.sha256((home / "audit.jsonl").read_bytes()).hexdigest()
    db = sqlite3.connect(f"file:{home / 'state.sqlite3'}?mode=ro", uri=True)
    try:
        dump = "\n".join(db.iterdump())
    finally:
        db.close()
    return audit, hashlib.sha256(dump.encode()).hexdigest()


def test_verify_exit_codes_json_and_nothing_changes(world: World, client_home: Path, work_dir: Path) -> None:
    world.ctx.close()  # the command opens the home itself
    good = work_dir / "good.eml"
    good.write_bytes(world.message())
    phishing = work_dir / "phish.eml"
    phishing.write_bytes(world.message(key=world.keys.foreign))
    before = snapshot(client_home)

    result = run("request", "verify", str(good), "--json")
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["verdict"] == "verified" and len(out["request_id"]) == 36
    assert {c["name"] for c in out["checks"]} == {
        "dkim", "format", "consent_signature", "phone", "identity", "addressee", "freshness", "replay"}
    assert all(set(c["detail"]) == {"de", "en"} for c in out["checks"])

    result = run("request", "verify", str(phishing), "--json")
    assert result.returncode == 1
    dkim = next(c for c in json.loads(result.stdout)["checks"] if c["name"] == "dkim")
    assert dkim["status"] == "fail" and "Phishing" in dkim["detail"]["de"]

    human = run("request", "verify", str(phishing))
    assert human.returncode == 1 and "FAIL" in human.stdout

    # verifying the same file again is still "new": verify never marks a request as seen
    assert run("request", "verify", str(good)).returncode == 0
    assert snapshot(client_home) == before


def test_verify_needs_review_exits_3(world: World, work_dir: Path) -> None:
    erika = world.parties.erika
    world.ctx.store.upsert_patients([Patient(erika.number, erika.patient.name, erika.patient.birth_date, None)],
                                    "test")
    world.ctx.close()
    path = work_dir / "review.eml"
    path.write_bytes(world.message())
    result = run("request", "verify", str(path), "--json")
    assert result.returncode == 3, result.stderr
    assert json.loads(result.stdout)["verdict"] == "needs_review"


def test_verify_unreadable_or_missing_file_is_one_line(world: World, client_home: Path, work_dir: Path) -> None:
    world.ctx.close()
    before = snapshot(client_home)
    missing = work_dir / "nope.eml"
    result = run("request", "verify", str(missing))
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.count("\n") == 1 and str(missing) in result.stderr
    result = run("request", "verify", str(work_dir))
    assert result.returncode == 1 and result.stderr.count("\n") == 1 and str(work_dir) in result.stderr
    garbage = work_dir / "garbage.eml"
    garbage.write_bytes(os.urandom(3000))
    result = run("request", "verify", str(garbage), "--json")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    checks = {c["name"]: c for c in json.loads(result.stdout)["checks"]}
    assert checks["format"]["status"] == "fail"
    assert snapshot(client_home) == before


def test_list_accept_decline_through_the_command_line(world: World, client_home: Path) -> None:
    inbox = Inbox(world.ctx, dnsfunc=world.dnsfunc)
    inbox.receive(world.message(), "test")
    inbox.receive(world.message(), "test")
    inbox.receive(world.message(world.request(practice_id="praxis-9999")), "test")
    world.ctx.close()
    listed = run("request", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    requests = json.loads(listed.stdout)["requests"]
    assert sorted(r["status"] for r in requests) == ["open", "open", "rejected"]
    first, second = [r["request_id"] for r in requests if r["status"] == "open"]
    rejected = next(r["request_id"] for r in requests if r["status"] == "rejected")

    accepted = run("request", "accept", first)
    assert accepted.returncode == 0, accepted.stderr
    assert (client_home / "export" / first).is_dir()
    refused = run("request", "accept", rejected, "--override", "--reason", "x")
    assert refused.returncode == 1 and refused.stderr.count("\n") == 1
    no_reason = run("request", "decline", second, "--reason", "")
    assert no_reason.returncode == 1
    declined = run("request", "decline", second, "--reason", "Keine Unterlagen vorhanden")
    assert declined.returncode == 0, declined.stderr
    states = {r["request_id"]: r["status"] for r in json.loads(run("request", "list", "--json").stdout)["requests"]}
    assert states[first] == "accepted" and states[second] == "declined" and states[rejected] == "rejected"
    assert run("audit", "verify").returncode == 0


def test_fetch_polls_the_configured_folder(world: World, client_home: Path, work_dir: Path) -> None:
    folder = work_dir / "eml"
    folder.mkdir()
    (folder / "a.eml").write_bytes(world.message())
    world.ctx.update_config(eml_dir=str(folder))
    world.ctx.close()
    result = run("request", "fetch")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("1 ")
    assert (folder / "processed" / "a.eml").is_file()
    assert len(json.loads(run("request", "list", "--json").stdout)["requests"]) == 1
