"""The hand-over's steps on their own: names from the pattern (no traversal, nothing
unsafe), the GDT record read back, a file never replaced, and recovery at each point of
a crash - including after the PMS already took the file."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from practice_client.core.gdt import parse_gdt
from practice_client.core.models import Patient, Share
from practice_client.shares import handover

WHEN = datetime(2026, 12, 1, 9, 30, 5).astimezone()
PATIENT = Patient("1001", "Erika Mustermann", "1964-08-12", None)


def share(**manifest: object) -> Share:
    return Share("0bace928-1111-4222-8333-444455556666", "clean", 1, 1, "", "", manifest=dict(manifest),
                 patient_number="1001", file_type="pdf")


def test_names_from_the_pattern_are_safe() -> None:
    hostile = share(document_type="../../Windows/System32 Ärztebrief", document_date="2026-11-30")
    name = handover.file_name("{patient_number}_{type}_{share}.{ext}", hostile, PATIENT, "pdf", WHEN)
    assert name == "1001_Windows_System32_Aerztebrief_0bace928.pdf"
    assert "/" not in handover.file_name("{type}", share(document_type="a/b\\c"), PATIENT, "jpeg", WHEN)
    assert handover.file_name("{birth_date}-{date}", share(), PATIENT, "text", WHEN) == "12081964-20261201.txt"
    with pytest.raises(ValueError, match="share_name_pattern"):
        handover.file_name("{nonsense}", share(), PATIENT, "pdf", WHEN)


def staged(tmp_path: Path, data: bytes = b"%PDF-1.7 test") -> tuple[dict[str, object], Path]:
    plan = handover.plan(tmp_path, "1001_x.pdf", WHEN)
    plain = tmp_path.parent / f"{tmp_path.name}-plain"
    plain.write_bytes(data)
    handover.stage(plan, plain, handover.record(share(document_type="Befund"), PATIENT, "pdf", plan))
    return plan, tmp_path


def test_staged_files_are_invisible_then_placed_with_a_record(tmp_path: Path) -> None:
    plan, folder = staged(tmp_path)
    assert sorted(p.name for p in folder.iterdir()) == [".1001_x.gdt.part", ".1001_x.pdf.part"]
    handover.place(plan)
    assert sorted(p.name for p in folder.iterdir()) == ["1001_x.gdt", "1001_x.pdf"]
    (record,) = parse_gdt((folder / "1001_x.gdt").read_bytes(), "1001_x.gdt")
    fields = {f: c for _, f, c in record.fields}
    assert (fields["8000"], fields["3000"], fields["3101"], fields["3102"], fields["3103"]) == (
        "6310", "1001", "Mustermann", "Erika", "12081964")
    assert (fields["6200"], fields["6201"], fields["6305"]) == ("01122026", "093005", str(folder / "1001_x.pdf"))


def test_a_file_of_that_name_is_never_replaced(tmp_path: Path) -> None:
    plan, folder = staged(tmp_path)
    (folder / "1001_x.pdf").write_bytes(b"the PMS's own file")
    with pytest.raises(handover.NameTaken):
        handover.place(plan)
    assert (folder / "1001_x.pdf").read_bytes() == b"the PMS's own file"
    assert (folder / ".1001_x.pdf.part").exists()  # kept for the next try


def test_recovery_after_a_crash_between_the_two_renames_and_after_the_pms_took_the_file(tmp_path: Path) -> None:
    plan, folder = staged(tmp_path)
    handover.rename_no_replace(folder / ".1001_x.pdf.part", folder / "1001_x.pdf")  # killed right after this
    (folder / "1001_x.pdf").unlink()  # meanwhile the PMS imported and removed it
    handover.place(plan)  # the restart: the data file was placed already - never again
    assert sorted(p.name for p in folder.iterdir()) == ["1001_x.gdt"]


def test_recovery_after_a_crash_between_link_and_unlink(tmp_path: Path) -> None:
    plan, folder = staged(tmp_path)
    (folder / "1001_x.pdf").hardlink_to(folder / ".1001_x.pdf.part")  # the fallback's first half
    handover.place(plan)
    assert sorted(p.name for p in folder.iterdir()) == ["1001_x.gdt", "1001_x.pdf"]
