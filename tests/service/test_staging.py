"""The service's staged uploads (practice_client.service.staging) on a real file system:
ids are never paths, an upload over the cap or broken off leaves nothing, a workstation
claims only its own, the sweep removes what nobody claimed in time."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from practice_client.core.config import Config
from practice_client.core.errors import InputError
from practice_client.service.staging import (
    HARD_CAP,
    MAX_AGE_SECONDS,
    MAX_PENDING,
    Staging,
    StagingRefused,
    cap_for,
)

ID = "0123456789abcdef0123456789abcdef"


def files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def test_a_complete_upload_appears_under_its_id_and_is_claimed_by_its_workstation_only(tmp_path: Path) -> None:
    staging = Staging(tmp_path / "staged")
    upload = staging.begin("ws1", ID, cap=100, declared=10)
    upload.write(b"01234")
    assert not (staging.folder / "ws1" / ID).exists(), "nothing under the id before the upload is complete"
    upload.write(b"56789")
    assert upload.finish() == 10
    assert files(staging.folder) == [f"ws1/{ID}"]
    assert staging.claim("ws1", ID, "brief.pdf").read_bytes() == b"0123456789"
    with pytest.raises(InputError) as refused:
        staging.claim("ws2", ID, "brief.pdf")
    assert refused.value.text.en.startswith("brief.pdf: the practice service has no such upload")


def test_an_upload_over_the_cap_is_refused_and_leaves_nothing(tmp_path: Path) -> None:
    staging = Staging(tmp_path / "staged")
    with pytest.raises(StagingRefused) as declared:
        staging.begin("ws1", ID, cap=1024 * 1024, declared=1024 * 1024 + 1)
    assert declared.value.status == 413
    upload = staging.begin("ws1", ID, cap=8)
    upload.write(b"12345678")
    with pytest.raises(StagingRefused) as counted:
        upload.write(b"9")
    assert counted.value.status == 413 and files(staging.folder) == []


def test_a_broken_off_upload_leaves_nothing(tmp_path: Path) -> None:
    staging = Staging(tmp_path / "staged")
    upload = staging.begin("ws1", ID, cap=100)
    upload.write(b"half")
    upload.abort()
    assert files(staging.folder) == []


@pytest.mark.parametrize("odd", ["../../vault", "..", ".", "", ID.upper(), ID[:-1], ID + "0", ID[:-1] + "/",
                                 ID[:-1] + "\x00", f"{ID[:16]}/{ID[:15]}", "con", "0" * 31 + "g"])
def test_an_id_that_is_not_32_lowercase_hex_digits_is_refused_before_a_file_is_touched(
        tmp_path: Path, odd: str) -> None:
    staging = Staging(tmp_path / "staged")
    with pytest.raises(StagingRefused) as refused:
        staging.begin("ws1", odd, cap=100)
    assert refused.value.status == 400
    with pytest.raises(InputError):
        staging.claim("ws1", odd, "brief.pdf")
    assert not staging.folder.exists()


def test_a_workstation_keeps_a_bounded_number_of_uploads(tmp_path: Path) -> None:
    staging = Staging(tmp_path / "staged")
    for n in range(MAX_PENDING):
        upload = staging.begin("ws1", f"{n:032x}", cap=10)
        upload.write(b"x")
        upload.finish()
    with pytest.raises(StagingRefused) as refused:
        staging.begin("ws1", ID, cap=10)
    assert refused.value.status == 429
    staging.begin("ws2", ID, cap=10).abort()  # another workstation's uploads are its own


def test_the_sweep_removes_what_no_command_claimed_in_time_and_keeps_the_rest(tmp_path: Path) -> None:
    staging = Staging(tmp_path / "staged")
    for staged_id in (ID, "f" * 32):
        upload = staging.begin("ws1", staged_id, cap=10)
        upload.write(b"x")
        upload.finish()
    left = staging.begin("ws2", ID, cap=10)  # a partial upload a crash left behind
    left.write(b"x")
    left._file.flush()
    old = time.time() - MAX_AGE_SECONDS - 1
    os.utime(staging.folder / "ws1" / ID, (old, old))
    os.utime(left.partial, (old, old))
    assert staging.sweep() == 2
    assert files(staging.folder) == [f"ws1/{'f' * 32}"]
    assert Staging(tmp_path / "none").sweep() == 0


def test_the_cap_is_the_practices_document_limit_or_the_hard_cap() -> None:
    assert cap_for(Config(max_document_mb=3)) == 3 * 1024 * 1024
    assert cap_for(Config(max_document_mb=0)) == HARD_CAP
