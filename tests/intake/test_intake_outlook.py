"""Request e-mails dragged from Outlook (.msg) or Thunderbird (.eml) are verified like any other.

The .msg files are written by a real, independent .msg writer (Tutanota's oxmsg, node) the way a
mail program keeps a received mail: transport headers, decoded text, attachment bytes - the MIME
body DKIM signed is gone. So a .msg request is never "verified": DKIM is a warning (not checkable),
every other check runs on the exact request.json bytes and the patient's signature."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from practice_client.core.models import CheckStatus, Verdict
from practice_client.intake.inbox import Inbox
from practice_client.intake.mail_file import read_mail_file
from practice_client.intake.sources.folder import FolderSource
from tests.support.cli import run_cli as run
from tests.support.outlook import save_as_msg

from .conftest import World


def verdict_of(done: subprocess.CompletedProcess[str]) -> tuple[str, dict[str, str]]:
    out = json.loads(done.stdout)
    return out["verdict"], {c["name"]: c["status"] for c in out["checks"]}


def test_an_outlook_msg_is_checked_fully_except_dkim_and_never_verified(
        world: World, work_dir: Path, outlook_writer: Path) -> None:
    world.ctx.close()
    raw = world.message()
    eml = work_dir / "anfrage.eml"
    eml.write_bytes(raw)
    msg = save_as_msg(outlook_writer, raw, work_dir / "anfrage.msg")
    assert run("request", "verify", str(eml), "--json").returncode == 0  # Thunderbird's .eml: verified
    done = run("request", "verify", str(msg), "--json")
    assert done.returncode == 3, done.stderr
    verdict, checks = verdict_of(done)
    assert verdict == "needs_review"
    assert checks == {"dkim": "warn", "format": "pass", "consent_signature": "pass", "phone": "pass",
                      "identity": "pass", "addressee": "pass", "freshness": "pass", "replay": "pass"}
    detail = next(c for c in json.loads(done.stdout)["checks"] if c["name"] == "dkim")["detail"]
    assert ".msg" in detail["en"] and ".eml" in detail["de"]


def test_a_forged_consent_in_a_msg_is_still_rejected(world: World, work_dir: Path, outlook_writer: Path) -> None:
    world.ctx.close()
    forged = world.message(signer=world.parties.stranger)  # valid DKIM, consent by the wrong key
    done = run("request", "verify", str(save_as_msg(outlook_writer, forged, work_dir / "f.msg")), "--json")
    assert done.returncode == 1
    verdict, checks = verdict_of(done)
    assert verdict == "rejected" and checks["consent_signature"] == "fail"
    tampered = save_as_msg(outlook_writer, world.message(), work_dir / "t.msg",
                           edit=lambda data: data.replace(b'"Arztbrief"', b'"Laborwerte"', 1))
    done = run("request", "verify", str(tampered), "--json")  # request.json changed after signing
    verdict, checks = verdict_of(done)
    assert verdict == "rejected" and checks["consent_signature"] == "fail" and checks["format"] == "pass"


def test_renaming_a_phishing_eml_to_msg_does_not_skip_dkim(world: World, work_dir: Path) -> None:
    world.ctx.close()
    phishing = work_dir / "phish.msg"
    phishing.write_bytes(world.message(key=world.keys.foreign))  # an .eml's bytes under a .msg name
    done = run("request", "verify", str(phishing))
    assert done.returncode == 1 and done.stderr.count("\n") == 1 and "Outlook" in done.stderr
    assert done.stdout == ""


def test_import_and_the_folder_source_record_a_msg_as_needs_review(
        world: World, work_dir: Path, outlook_writer: Path) -> None:
    inbox = Inbox(world.ctx, dnsfunc=world.dnsfunc, clock=lambda: world.now)
    folder = work_dir / "mails"
    folder.mkdir()
    save_as_msg(outlook_writer, world.message(), folder / "anfrage.msg")
    (folder / "kaputt.msg").write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 600)  # OLE magic, no content
    assert FolderSource(folder, deliver=inbox.receive, settle=inbox.process_pending).poll_once() == 1
    [record] = world.ctx.store.list_requests()
    assert record.source == "folder.msg" and record.verdict is Verdict.NEEDS_REVIEW
    assert next(c for c in record.checks if c.name == "dkim").status is CheckStatus.WARN
    assert (folder / "processed" / "anfrage.msg").exists()
    assert (folder / "failed" / "kaputt.msg").exists()
    assert "Outlook" in (folder / "failed" / "kaputt.msg.reason.txt").read_text()
    # stored messages verified again later (a restart) keep the .msg treatment: never "verified"
    assert read_mail_file(folder / "processed" / "anfrage.msg").reconstructed


def test_request_import_reads_every_file_first_and_records_eml_and_msg(
        world: World, work_dir: Path, outlook_writer: Path) -> None:
    world.ctx.close()
    eml = work_dir / "a.eml"
    eml.write_bytes(world.message())
    msg = save_as_msg(outlook_writer, world.message(world.request(who=world.parties.max.patient),
                                                    signer=world.parties.max.patient), work_dir / "b.msg")
    broken = work_dir / "c.msg"
    broken.write_bytes(b"not an outlook file")
    refused = run("request", "import", str(eml), str(msg), str(broken))
    assert refused.returncode == 1 and refused.stderr.count("\n") == 1 and str(broken) in refused.stderr
    assert json.loads(run("request", "list", "--json").stdout)["requests"] == []  # nothing recorded
    done = run("request", "import", str(eml), str(msg))
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("2 ")
    requests = json.loads(run("request", "list", "--json").stdout)["requests"]
    assert sorted((r["source"], r["verdict"]) for r in requests) == [("import", "verified"),
                                                                    ("import.msg", "needs_review")]
    # the same .msg again is the same message (rebuilt byte for byte alike), not a replay
    verdict, checks = verdict_of(run("request", "verify", str(msg), "--json"))
    assert verdict == "needs_review" and checks["replay"] == "pass"
