"""Safe names, temporary names and the watcher's completeness rules (real watchdog)."""

from __future__ import annotations

import os
import threading
from pathlib import Path

from practice_client.delivery.names import free_path, is_temporary, safe_name
from practice_client.delivery.watcher import Watcher, ignored
from tests.support.waiting import wait_for


def test_safe_name() -> None:
    assert safe_name("../../etc/passwd") == "_.._etc_passwd"
    assert safe_name("..") == "dokument" and safe_name("") == "dokument" and safe_name("...") == "dokument"
    assert safe_name("rechnung\u202efdp.exe") == "rechnungfdp.exe"
    assert safe_name("a\u200bb\u2066c.pdf") == "abc.pdf"  # zero-width and isolate controls
    assert safe_name("Mu\u0308ller.pdf") == "Müller.pdf"  # NFD -> NFC
    assert safe_name("a\r\nb\x00c.pdf") == "abc.pdf"
    assert safe_name(".bashrc") == "bashrc"
    long = safe_name("x" * 500 + ".pdf")
    assert long.endswith(".pdf") and len(long.encode()) <= 200
    assert len(safe_name("ü" * 300).encode()) <= 200


def test_temporary_names() -> None:
    for name in ("a.part", "a.PDF.tmp", "~$brief.docx", ".hidden", "a.crdownload", "a.pdf~"):
        assert is_temporary(name), name
    assert not is_temporary("1001_brief.pdf")


def test_ignored_paths(tmp_path: Path) -> None:
    assert ignored(tmp_path, tmp_path / "processed" / "x.pdf")
    assert ignored(tmp_path, tmp_path / "failed" / "x.pdf")
    assert not ignored(tmp_path, tmp_path / "x.pdf.gdt")  # watched until complete, never handed on
    assert ignored(tmp_path, tmp_path.parent / "x.pdf")
    assert ignored(tmp_path, tmp_path / ".sub" / "x.pdf")
    assert not ignored(tmp_path, tmp_path / "sub" / "x.pdf")


def test_free_path(tmp_path: Path) -> None:
    (tmp_path / "a.pdf").write_bytes(b"")
    assert free_path(tmp_path, "a.pdf", "1234") == tmp_path / "a-1234.pdf"
    assert free_path(tmp_path, "b.pdf", "1234") == tmp_path / "b.pdf"


def test_watcher_takes_closed_and_stable_files_once(tmp_path: Path) -> None:
    ready: list[Path] = []
    seen = threading.Event()

    def take(path: Path) -> None:
        ready.append(path)
        os.replace(path, tmp_path.parent / f"{tmp_path.name}-{path.name}")  # away, as the outbox does
        seen.set()

    watcher = Watcher(tmp_path, take, stable_seconds=0.2, rescan_seconds=0.5)
    (tmp_path / "before.pdf").write_bytes(b"present at start")  # found by the first rescan
    watcher.start()
    try:
        (tmp_path / "sub").mkdir()
        (tmp_path / "sub" / "new.pdf").write_bytes(b"closed after writing")
        (tmp_path / "skip.part").write_bytes(b"temporary")
        (tmp_path / "processed").mkdir()
        (tmp_path / "processed" / "old.pdf").write_bytes(b"own folder")
        wait_for(lambda: len(ready) >= 2, timeout=20, what="two files")
        names = sorted(p.name for p in ready)
        assert names == ["before.pdf", "new.pdf"]
        os.rename(tmp_path / "skip.part", tmp_path / "skip.pdf")
        wait_for(lambda: len(ready) == 3, timeout=20, what="the renamed file")
    finally:
        watcher.stop()
    assert len(ready) == 3


def test_a_file_renamed_in_from_outside_is_complete_without_waiting_for_stability(
    tmp_path: Path,
) -> None:
    """A rename is atomic: a file moved in from elsewhere is complete (inotify reports it
    as moved, not created), as is one renamed from a temporary name in the folder."""
    export, outside = tmp_path / "export", tmp_path / "outside"
    export.mkdir()
    outside.mkdir()
    ready: list[Path] = []

    def take(path: Path) -> None:
        ready.append(path)
        os.replace(path, outside / f"taken-{path.name}")

    watcher = Watcher(export, take, stable_seconds=30.0, rescan_seconds=3600.0)
    watcher.start()
    try:
        wait_for(lambda: watcher._observer is not None, timeout=10, what="the observer")  # noqa: SLF001
        (outside / "moved.pdf").write_bytes(b"written elsewhere")
        os.rename(outside / "moved.pdf", export / "moved.pdf")
        wait_for(lambda: ready, timeout=10, what="the moved-in file")  # far less than 30 s
    finally:
        watcher.stop()
    assert [p.name for p in ready] == ["moved.pdf"]
