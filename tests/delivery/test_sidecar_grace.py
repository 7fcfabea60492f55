"""A document's GDT record as PMS write it: a sidecar or a 6305 file reference, possibly a
moment after the document. Real watchdog events; nothing here sleeps - the tests wait on
the watcher's own calls."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

from practice_client.core.gdt import build_record
from practice_client.delivery.sidecar import records_for
from practice_client.delivery.watcher import Watcher
from tests.support.waiting import wait_for

ERIKA = [("3000", "1001"), ("3101", "Mustermann"), ("3102", "Erika"), ("3103", "12081964")]


def gdt(*extra: tuple[str, str]) -> bytes:
    return build_record("6310", [*ERIKA, *extra])


def test_records_for_a_document_sidecar_and_6305(tmp_path: Path) -> None:
    doc = tmp_path / "Befund Labor.pdf"
    doc.write_bytes(b"%PDF")
    assert records_for(doc) == []
    (tmp_path / "PVS00001.gdt").write_bytes(gdt(("6305", r"C:\PVS\Export\befund labor.PDF")))
    (tmp_path / "PVS00002.gdt").write_bytes(gdt(("6305", "anderes.pdf")))
    (tmp_path / "kaputt.gdt").write_bytes(b"not gdt")
    assert records_for(doc) == [tmp_path / "PVS00001.gdt"]  # the last part of the path, any case
    (tmp_path / "Befund Labor.pdf.gdt").write_bytes(gdt())
    assert records_for(doc) == [tmp_path / "Befund Labor.pdf.gdt", tmp_path / "PVS00001.gdt"]  # a conflict
    os.link(tmp_path / "PVS00002.gdt", tmp_path / "PVS00003.gdt")  # hard links are never read
    (tmp_path / "PVS00002.gdt").write_bytes(gdt(("6305", "Befund Labor.pdf")))
    assert tmp_path / "PVS00003.gdt" not in records_for(doc)


class Recorder:
    """The watcher's two calls, with what the folder held at each."""

    def __init__(self, folder: Path, outside: Path) -> None:
        self.folder, self.outside = folder, outside
        self.asked = threading.Event()  # wants_record was called: the document waits
        self.taken: list[tuple[str, float, list[str]]] = []

    def wants_record(self, path: Path) -> bool:
        self.asked.set()
        return True

    def take(self, path: Path) -> None:
        names = sorted(p.name for p in self.folder.iterdir())
        self.taken.append((path.name, time.monotonic(), names))
        os.replace(path, self.outside / path.name)  # away, as the outbox does


def watch(tmp_path: Path, grace: float, wants: bool = True) -> tuple[Watcher, Recorder]:
    folder, outside = tmp_path / "export", tmp_path / "outside"
    folder.mkdir()
    outside.mkdir()
    recorder = Recorder(folder, outside)
    watcher = Watcher(folder, recorder.take, stable_seconds=0.2, rescan_seconds=3600.0, sidecar_grace=grace,
                      wants_record=recorder.wants_record if wants else (lambda _path: False))
    watcher.start()
    wait_for(lambda: watcher._observer is not None, timeout=10, what="the observer")  # noqa: SLF001
    return watcher, recorder


def test_a_sidecar_that_arrives_after_its_document_is_waited_for(tmp_path: Path) -> None:
    watcher, seen = watch(tmp_path, grace=60.0)
    try:
        (seen.folder / "scan.pdf").write_bytes(b"scan")
        assert seen.asked.wait(20), "the complete document waits for its record"
        assert seen.taken == []
        (seen.folder / "scan.pdf.gdt").write_bytes(gdt())
        started = time.monotonic()
        wait_for(lambda: seen.taken, timeout=20, what="the document")  # long before the 60 s grace
    finally:
        watcher.stop()
    [(name, when, present)] = seen.taken
    assert name == "scan.pdf" and "scan.pdf.gdt" in present and when - started < 20


def test_a_6305_record_that_arrives_after_its_document_is_waited_for(tmp_path: Path) -> None:
    watcher, seen = watch(tmp_path, grace=60.0)
    try:
        (seen.folder / "labor.pdf").write_bytes(b"labor")
        assert seen.asked.wait(20)
        (seen.folder / "EXPO0001.gdt").write_bytes(gdt(("6305", r"D:\Export\labor.pdf")))
        wait_for(lambda: seen.taken, timeout=20, what="the document")
    finally:
        watcher.stop()
    assert [(n, "EXPO0001.gdt" in present) for n, _, present in seen.taken] == [("labor.pdf", True)]


def test_without_a_record_the_document_goes_on_after_the_grace_period(tmp_path: Path) -> None:
    watcher, seen = watch(tmp_path, grace=1.5)
    try:
        (seen.folder / "scan.pdf").write_bytes(b"scan")
        assert seen.asked.wait(20)
        asked = time.monotonic()
        wait_for(lambda: seen.taken, timeout=30, what="the document")
    finally:
        watcher.stop()
    assert seen.taken[0][1] - asked >= 1.4  # it did wait (the grace starts when it was complete)


def test_a_document_its_name_matches_does_not_wait(tmp_path: Path) -> None:
    watcher, seen = watch(tmp_path, grace=60.0, wants=False)
    try:
        (seen.folder / "1001_12081964_brief.pdf").write_bytes(b"brief")
        wait_for(lambda: seen.taken, timeout=20, what="the document")  # not 60 s
    finally:
        watcher.stop()
    assert seen.taken[0][0] == "1001_12081964_brief.pdf"


def test_a_record_still_being_written_holds_its_document_until_it_is_closed(tmp_path: Path) -> None:
    watcher, seen = watch(tmp_path, grace=60.0, wants=False)
    data = gdt(("6304", "Befund"))
    try:
        with open(seen.folder / "brief.pdf.gdt", "wb") as record:
            record.write(data[:20])
            record.flush()
            (seen.folder / "brief.pdf").write_bytes(b"brief")
            document = seen.folder / "brief.pdf"

            def waiting() -> bool:  # complete, and held back for its record
                state = watcher._seen.get(document)  # noqa: SLF001
                return state is not None and state.ready_since is not None

            wait_for(waiting, timeout=20, what="the document waiting for its record")
            assert seen.taken == []
            record.write(data[20:])
        wait_for(lambda: seen.taken, timeout=20, what="the document")
    finally:
        watcher.stop()
    assert seen.taken[0][0] == "brief.pdf"
    assert (seen.folder / "brief.pdf.gdt").read_bytes() == data  # complete when the document went


def test_gdt_files_are_never_handed_on_as_documents(tmp_path: Path) -> None:
    watcher, seen = watch(tmp_path, grace=0.0)
    try:
        (seen.folder / "orphan.gdt").write_bytes(gdt())
        (seen.folder / "brief.pdf").write_bytes(b"brief")
        wait_for(lambda: seen.taken, timeout=20, what="the document")
        watcher.wake(rescan=True)
    finally:
        watcher.stop()
    assert [name for name, _, _ in seen.taken] == ["brief.pdf"]
