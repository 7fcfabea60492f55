"""A real clamd for the tests: started by the suite on a unix socket, with a signature
database the test writes (no freshclam, no internet): the EICAR test string as a custom
``.ndb`` body signature, and an MD5 ``.hdb`` signature of a second test file."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

EICAR = b"X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"
EICAR_SIGNATURE = "Practice.Test.EICAR.UNOFFICIAL"  # clamd names signatures outside its own db so
HASHED = b"practice-client test: this exact file is known malware to the test database\n"
HASHED_SIGNATURE = "Practice.Test.Hashed.UNOFFICIAL"


def clamd_binary() -> str | None:
    return shutil.which("clamd") or next((p for p in ("/usr/sbin/clamd",) if Path(p).exists()), None)


@dataclass(frozen=True)
class RunningClamd:
    socket: Path
    process: subprocess.Popen[bytes]


def write_database(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "practice-test.ndb").write_text(f"Practice.Test.EICAR:0:*:{EICAR.hex()}\n", encoding="ascii")
    md5 = hashlib.md5(HASHED).hexdigest()  # noqa: S324 - ClamAV's .hdb format is MD5
    (folder / "practice-test.hdb").write_text(f"{md5}:{len(HASHED)}:Practice.Test.Hashed\n", encoding="ascii")


@contextmanager
def start_clamd(root: Path, stream_max: str = "32M") -> Iterator[RunningClamd]:
    binary = clamd_binary()
    assert binary is not None
    write_database(root / "db")
    sock = root / "clamd.sock"
    config = root / "clamd.conf"
    config.write_text("\n".join([
        "Foreground yes", f"LocalSocket {sock}", f"DatabaseDirectory {root / 'db'}",
        f"LogFile {root / 'clamd.log'}", f"PidFile {root / 'clamd.pid'}", f"StreamMaxLength {stream_max}",
        "User root", "",
    ]), encoding="ascii")
    process = subprocess.Popen([binary, "-c", str(config)], stdout=subprocess.DEVNULL,  # noqa: S603
                               stderr=subprocess.PIPE)
    deadline, pause = time.monotonic() + 60, threading.Event()
    try:
        while not sock.exists():
            if process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"clamd did not start: {process.stderr.read() if process.stderr else b''!r}")
            pause.wait(0.05)
        yield RunningClamd(sock, process)
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
