"""A private clamd for the demo and the tests: ClamAV's real daemon on a unix socket in a
folder of its own, with a signature database written here (freshclam needs the internet;
ClamAV runs with any database): the EICAR test string as a body signature (``.ndb``)
and, for tests, an MD5 signature (``.hdb``) of one more test file."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

EICAR = b"X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"
EICAR_SIGNATURE = "Practice.Test.EICAR.UNOFFICIAL"  # clamd marks signatures of a database of one's own
HASHED = b"practice-client test: this exact file is known malware to the test database\n"
HASHED_SIGNATURE = "Practice.Test.Hashed.UNOFFICIAL"


def clamd_binary() -> str | None:
    """clamd, also where ``/usr/sbin`` is not on PATH; None where ClamAV is not installed."""
    return shutil.which("clamd") or next((p for p in ("/usr/sbin/clamd",) if Path(p).exists()), None)


@dataclass(frozen=True)
class RunningClamd:
    socket: Path
    database: Path
    process: subprocess.Popen[bytes]


def write_database(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "practice-test.ndb").write_text(f"Practice.Test.EICAR:0:*:{EICAR.hex()}\n", encoding="ascii")
    md5 = hashlib.md5(HASHED).hexdigest()  # noqa: S324 - ClamAV's .hdb format is MD5
    (folder / "practice-test.hdb").write_text(f"{md5}:{len(HASHED)}:Practice.Test.Hashed\n", encoding="ascii")


@contextmanager
def start_clamd(root: Path, stream_max: str = "128M", timeout: float = 60.0) -> Iterator[RunningClamd]:
    """clamd in the foreground below ``root`` (keep it short: a unix socket path), until
    the block ends."""
    binary = clamd_binary()
    if binary is None:
        raise FileNotFoundError("clamd")
    write_database(root / "db")
    sock = root / "clamd.sock"
    config = root / "clamd.conf"
    lines = ["Foreground yes", f"LocalSocket {sock}", f"DatabaseDirectory {root / 'db'}",
             f"LogFile {root / 'clamd.log'}", f"PidFile {root / 'clamd.pid'}", f"StreamMaxLength {stream_max}"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        lines.append("User root")  # clamd would switch to the clamav account otherwise
    config.write_text("\n".join([*lines, ""]), encoding="ascii")
    process = subprocess.Popen([binary, "-c", str(config)], stdout=subprocess.DEVNULL,  # noqa: S603
                               stderr=subprocess.PIPE)
    deadline, pause = time.monotonic() + timeout, threading.Event()
    try:
        while not sock.exists():
            if process.poll() is not None or time.monotonic() > deadline:
                error = process.stderr.read().decode("utf-8", "replace")[-300:] if process.poll() is not None \
                    and process.stderr else "timed out"
                raise RuntimeError(f"clamd did not start: {error}")
            pause.wait(0.05)
        yield RunningClamd(sock, root / "db", process)
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=30)
