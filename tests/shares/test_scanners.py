"""The scanners: a real clamd over INSTREAM (clean, EICAR by a body signature, a file by
its hash, clamd's stream limit, clamd gone), a real clamscan as the administrator's
command, and Microsoft Defender's command line (built and read here; it cannot run on
this machine)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from practice_client.shares.scan import (
    Clamd,
    CommandScanner,
    Defender,
    ScanLimitExceeded,
    ScannerUnavailable,
    configured_scanner,
)
from practice_client.testbed.clamd import EICAR, EICAR_SIGNATURE, HASHED, HASHED_SIGNATURE, RunningClamd, start_clamd
from tests.conftest import require, short_tmpdir


def test_clamd_instream_clean_and_infected(clamd: RunningClamd, tmp_path: Path) -> None:
    scanner = Clamd(str(clamd.socket))
    assert scanner.version().startswith("ClamAV ")
    clean = tmp_path / "clean.txt"
    clean.write_bytes(b"Befund: unauffaellig\n" * 100_000)  # 2 MB: several INSTREAM chunks
    assert scanner.scan(clean).clean
    infected = tmp_path / "doc.txt"
    infected.write_bytes(os.urandom(3 * 1024 * 1024) + EICAR + b"\n")  # past the first chunk
    verdict = scanner.scan(infected)
    assert not verdict.clean and verdict.signature == EICAR_SIGNATURE
    hashed = tmp_path / "hashed.txt"
    hashed.write_bytes(HASHED)
    assert scanner.scan(hashed).signature == HASHED_SIGNATURE


def test_clamd_stream_limit_is_told_apart_from_a_broken_connection(tmp_path: Path) -> None:
    """clamd answers 'INSTREAM size limit exceeded' and closes while the client still sends."""
    root = short_tmpdir("pcl")
    try:
        with start_clamd(root, stream_max="1M") as small:
            big = tmp_path / "big.bin"
            big.write_bytes(os.urandom(4 * 1024 * 1024))
            with pytest.raises(ScanLimitExceeded):
                Clamd(str(small.socket)).scan(big)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def test_clamd_not_reachable(tmp_path: Path) -> None:
    sample = tmp_path / "a.txt"
    sample.write_text("x")
    with pytest.raises(ScannerUnavailable) as gone:
        Clamd(str(tmp_path / "no.sock")).scan(sample)
    assert gone.value.reason == "scanner_unreachable"
    with pytest.raises(ScannerUnavailable) as closed_port:
        Clamd("127.0.0.1:1", timeout=2).scan(sample)
    assert closed_port.value.reason == "scanner_unreachable"


def test_clamscan_as_the_administrators_command(clamd: RunningClamd, tmp_path: Path) -> None:
    clamscan = shutil.which("clamscan")
    require(clamscan is not None, "clamscan (Debian clamav)")
    database = clamd.database
    scanner = CommandScanner.parse(f"{clamscan} --no-summary -d {database} {{file}}", 120)
    infected = tmp_path / "eicar name with spaces.txt"
    infected.write_bytes(EICAR)
    assert scanner.command(infected)[-1] == str(infected)  # one argument, never a shell
    verdict = scanner.scan(infected)
    assert not verdict.clean and verdict.signature == EICAR_SIGNATURE
    clean = tmp_path / "clean.txt"
    clean.write_text("nichts\n")
    assert scanner.scan(clean).clean
    with pytest.raises(ScannerUnavailable):  # exit code 2: an error, not "clean"
        scanner.scan(tmp_path / "missing.txt")


def test_defender_command_line_and_its_answers(tmp_path: Path) -> None:
    defender = Defender(Path(r"C:\Program Files\Windows Defender\MpCmdRun.exe"))
    target = tmp_path / "Befund 1.pdf"
    assert defender.command(target) == [
        r"C:\Program Files\Windows Defender\MpCmdRun.exe", "-Scan", "-ScanType", "3", "-File", str(target),
        "-DisableRemediation",
    ]
    clean = "Scan starting...\r\nScan finished.\r\nScanning C:\\x found no threats.\r\n"
    assert defender.verdict(0, clean).clean
    found = ("Scan starting...\r\nScan finished.\r\nScanning C:\\x found 1 threats.\r\n\r\n"
             "<===========================LIST OF DETECTED THREATS==========================>\r\n"
             "----------------------------- Threat information ------------------------------\r\n"
             "Threat                  : Virus:DOS/EICAR_Test_File\r\n"
             "Resources               : 1 total\r\n    file                : C:\\x\r\n")
    verdict = defender.verdict(2, found)
    assert not verdict.clean and verdict.signature == "Virus:DOS/EICAR_Test_File"
    for code, output in ((2, "CmdTool: Failed with hr = 0x80508023"), (1, ""), (0, found)):
        with pytest.raises(ScannerUnavailable):
            defender.verdict(code, output)
    with pytest.raises(ScannerUnavailable):  # not on this machine: never "clean"
        defender.scan(target)


def test_which_scanner_the_settings_name(tmp_path: Path) -> None:
    with pytest.raises(ScannerUnavailable) as none:
        configured_scanner("none", "", "", "", 10)
    assert none.value.reason == "no_scanner"
    with pytest.raises(ScannerUnavailable):
        configured_scanner("command", "", "", "", 10)  # no command in the policy
    with pytest.raises(ScannerUnavailable):
        configured_scanner("command", "", "", "/usr/bin/true", 10)  # no {file}: it would scan nothing
    assert isinstance(configured_scanner("clamd", str(tmp_path / "s"), "", "", 10), Clamd)
    assert isinstance(configured_scanner("defender", "", str(tmp_path / "MpCmdRun.exe"), "", 10), Defender)
