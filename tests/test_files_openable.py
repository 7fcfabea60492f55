"""Is a writer still at work on an export file? ``core.files.openable``.

POSIX (run here for real): the file must open now without following a link; other
writers cannot be seen, the watcher's close events and size/mtime rule judge them.
Windows: ``CreateFileW`` sharing with readers only, so an open fails with a sharing
violation while a PMS holds the file for writing even when it allows reading. No
Windows Python runs on this machine (Wine has none), so what is tested here is the
call's arguments and how its answer is read; the ctypes call itself runs on Windows only.
"""

from __future__ import annotations

import os
from pathlib import Path, PureWindowsPath

import pytest

from practice_client.core import files
from practice_client.core.files import (
    ERROR_SHARING_VIOLATION,
    FILE_FLAG_OPEN_REPARSE_POINT,
    FILE_SHARE_DELETE,
    FILE_SHARE_READ,
    FILE_SHARE_WRITE,
    GENERIC_READ,
    OPEN_EXISTING,
    CreateFileArgs,
    exclusive_read_args,
    openable,
    windows_openable,
)


def test_windows_open_shares_with_readers_only_and_never_follows_a_reparse_point() -> None:
    args = exclusive_read_args(PureWindowsPath(r"C:\PVS\Export\1001_12081964_Arztbrief.pdf"))
    assert args.path == r"\\?\C:\PVS\Export\1001_12081964_Arztbrief.pdf"
    assert args.access == GENERIC_READ
    assert args.share == FILE_SHARE_READ
    assert not args.share & (FILE_SHARE_WRITE | FILE_SHARE_DELETE)  # a writer makes the open fail
    assert args.disposition == OPEN_EXISTING  # never creates a file
    assert args.flags & FILE_FLAG_OPEN_REPARSE_POINT


@pytest.mark.parametrize(("given", "expected"), [
    (r"\\pvs-server\export\brief.pdf", r"\\?\UNC\pvs-server\export\brief.pdf"),
    (r"\\?\D:\already\long.pdf", r"\\?\D:\already\long.pdf"),
    (r"D:\a" + "\\x" * 200 + r"\deep.pdf", r"\\?\D:\a" + "\\x" * 200 + r"\deep.pdf"),
    (r"relative\brief.pdf", r"relative\brief.pdf"),
])
def test_windows_paths_are_given_in_long_form(given: str, expected: str) -> None:
    assert exclusive_read_args(PureWindowsPath(given)).path == expected


def test_a_sharing_violation_means_not_complete_yet_and_success_means_openable() -> None:
    calls: list[CreateFileArgs] = []

    def answer(code: int):
        def opener(args: CreateFileArgs) -> int:
            calls.append(args)
            return code
        return opener

    path = PureWindowsPath(r"C:\PVS\Export\brief.pdf")
    assert windows_openable(path, answer(ERROR_SHARING_VIOLATION)) is False
    assert windows_openable(path, answer(5)) is False  # access denied
    assert windows_openable(path, answer(0)) is True
    assert calls == [exclusive_read_args(path)] * 3


def test_posix_a_regular_file_opens_a_link_or_a_missing_file_does_not(tmp_path: Path) -> None:
    assert files.sys.platform != "win32"
    document = tmp_path / "brief.pdf"
    document.write_bytes(b"%PDF-1.7\n")
    link = tmp_path / "link.pdf"
    link.symlink_to(document)
    assert openable(document)
    assert not openable(link)
    assert not openable(tmp_path / "gone.pdf")


def test_posix_cannot_see_a_writer_so_the_watcher_rule_decides(tmp_path: Path) -> None:
    document = tmp_path / "brief.pdf"
    with document.open("wb") as writer:
        writer.write(b"%PDF-")
        writer.flush()
        os.fsync(writer.fileno())
        assert openable(document)  # unlike Windows: completeness is judged by close events, size and mtime
