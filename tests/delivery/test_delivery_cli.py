"""``send FILE... --request ID`` and ``outbox [--json]`` through the real CLI."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from practice_client.cli import main
from practice_client.context import Context
from practice_client.core.models import RequestStatus
from tests.support.worlds import World, accepted_request, documents, pin_patient

pytestmark = pytest.mark.slow


def test_send_delivers_and_outbox_reports(world: World, client: Context, work_dir: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    patient = pin_patient(client, world, "1003")
    request_id = accepted_request(client, patient.fingerprint, "1003")
    files = [work_dir / "Befund.pdf", work_dir / "Labor.csv"]
    for index, file in enumerate(files):
        file.write_bytes(os.urandom(10_000 + index))
    assert main(["send", *map(str, files), "--request", request_id]) == 0
    assert all(f.exists() for f in files)  # send copies; the user's files stay
    capsys.readouterr()
    assert main(["outbox", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    delivered = [d for d in report["documents"] if d["state"] == "delivered"]
    assert sorted(d["file_name"] for d in delivered) == ["Befund.pdf", "Labor.csv"]
    assert all(d["request_id"] == request_id and len(d["ciphertext_sha256"]) == 64 for d in delivered)
    for doc in delivered:
        data, name, signed = patient.decrypt(
            world.platform.data_dir / "documents" / f"{doc['document_id']}.pgp", None, world.practice_key)
        assert signed and (work_dir / name).read_bytes() == data
    assert not any(client.home.spool.iterdir())
    assert main(["outbox"]) == 0
    assert "delivered" in capsys.readouterr().out


@pytest.mark.parametrize("status", [RequestStatus.OPEN, RequestStatus.DECLINED])
def test_send_refuses_a_request_not_accepted(world: World, client: Context, work_dir: Path,
                                            status: RequestStatus,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    patient = pin_patient(client, world, "1003")
    request_id = accepted_request(client, patient.fingerprint, "1003", status=status)
    (work_dir / "a.pdf").write_bytes(b"a")
    assert main(["send", str(work_dir / "a.pdf"), "--request", request_id]) == 1
    err = capsys.readouterr().err
    assert request_id in err and len(err.strip().splitlines()) == 1
    assert documents(client) == []


def test_send_refuses_links_and_empty_files_before_anything(world: World, client: Context,
                                                            work_dir: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    patient = pin_patient(client, world, "1003")
    request_id = accepted_request(client, patient.fingerprint, "1003")
    good, empty, link = work_dir / "good.pdf", work_dir / "empty.pdf", work_dir / "link.pdf"
    good.write_bytes(b"fine")
    empty.write_bytes(b"")
    os.symlink(good, link)
    for bad, word in ((empty, "empty"), (link, "symbolic link")):
        assert main(["send", str(good), str(bad), "--request", request_id]) == 1
        err = capsys.readouterr().err
        assert str(bad) in err and word in err
    assert main(["send", str(work_dir / "missing.pdf"), "--request", request_id]) == 1
    assert "missing.pdf" in capsys.readouterr().err
    assert documents(client) == []  # nothing changed


def test_staff_assign_on_the_command_line_after_confirming_the_birth_date(
        world: World, client: Context, work_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from practice_client.delivery import outbox

    patient = pin_patient(client, world, "1003")
    request_id = accepted_request(client, patient.fingerprint, "1003")
    scan = work_dir / "scan.pdf"
    scan.write_bytes(b"scan" * 100)
    export = Path(client.config.export_dir)
    os.replace(scan, export / "scan.pdf")
    doc = outbox.ingest(client, export / "scan.pdf")
    assert doc.state.value == "unassigned"
    capsys.readouterr()
    assert main(["outbox", "--candidates", "--json"]) == 0
    (candidate,) = json.loads(capsys.readouterr().out)["candidates"]
    assert candidate["request_id"] == request_id
    assert candidate["patient"]["pms"] == {"name": "Gisela Beispiel", "birth_date": "1975-05-05"}
    for wrong in (["--birth-date", "06.05.1975"], ["--birth-date", "gestern"], []):
        assert main(["outbox", "--assign", doc.document_id, "--request", request_id, *wrong]) == 1
        err = capsys.readouterr().err
        assert len(err.strip().splitlines()) == 1
        assert "05.05.1975" not in err and "1975-05-05" not in err  # the record's date is not given away
        assert client.store.get_document(doc.document_id).state.value == "unassigned"  # type: ignore[union-attr]
    assert main(["outbox", "--assign", doc.document_id, "--request", request_id, "--birth-date", "05.05.1975"]) == 0
    assigned = client.store.get_document(doc.document_id)
    assert assigned is not None and assigned.request_id == request_id and assigned.match_method == "staff"
    capsys.readouterr()
    assert main(["outbox", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    (row,) = report["documents"]
    assert row["patient"]["pms"]["name"] == "Gisela Beispiel" and report["matching"]["number_only"] is False
