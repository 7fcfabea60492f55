"""Virus scanners: ClamAV's daemon, Microsoft Defender's command line, or a command the
administrator configures. A share is handed to the PMS only when one of them said clean.

- **clamd** through its ``INSTREAM`` protocol, on a unix socket or TCP: the file is sent
  in chunks (4-byte big-endian length + bytes, a zero length ends it), the answer is one
  ``\\0``-terminated line (``stream: OK``, ``stream: <signature> FOUND``, ``... ERROR``).
  Written here rather than taken from a client library: the ones on PyPI (clamd,
  clamdpy, clamav-client) send 1 KiB chunks, read the answer without a bound, and turn
  clamd's answer to a stream over its ``StreamMaxLength`` - clamd answers and closes
  while the client is still sending - into a connection error (checked with clamd 1.4).
  Here every socket operation has a timeout, the whole scan a deadline that grows with
  the size, the answer is read up to 4 KiB, and a closed connection is still asked for
  its answer.
- **Defender**: ``MpCmdRun.exe -Scan -ScanType 3 -File <path> -DisableRemediation``
  (ScanType 3 = a custom scan of that path; -DisableRemediation: report, do not move or
  delete). Exit code 0: no threat; 2: threats, named in ``Threat : <name>`` lines; a 2
  without a named threat, and any other code, is a scanner failure (the share waits).
  Only on Windows; the tests check the command line and the reading of its output.
- **command**: ``scanner_command`` (administrator's policy only), e.g.
  ``clamdscan --no-summary --fdpass {file}``; exit code 0 clean, 1 infected (the
  convention of clamscan/clamdscan; the signature read from ``<file>: <name> FOUND``),
  anything else a failure.

No scanner configured (``scanner = none``, or ``auto`` finding none), or one that does
not answer: :class:`ScannerUnavailable`, and the share waits - never handed on unscanned.
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import socket
import struct
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from practice_client.core.text import Text

CHUNK = 1024 * 1024
MAX_ANSWER = 4096
CLAMD_SOCKETS = ("/run/clamav/clamd.ctl", "/var/run/clamav/clamd.ctl", "/var/run/clamd.scan/clamd.sock",
                 "/tmp/clamd.socket")  # Debian/Ubuntu, Fedora/RHEL, Homebrew's default  # noqa: S108
DEFENDER = Path(r"C:\Program Files\Windows Defender\MpCmdRun.exe")
_FOUND = re.compile(r"^(?:stream|.*?): (?P<name>.+) FOUND$")
_THREAT = re.compile(r"^\s*Threat\s*:\s*(?P<name>.+?)\s*$", re.MULTILINE)


@dataclass(frozen=True)
class ScanVerdict:
    clean: bool
    signature: str | None  # the malware's name when not clean (None: the scanner named none)
    scanner: str  # which scanner said so (for the audit)


class ScannerUnavailable(Exception):
    """No answer that can be trusted: ``reason`` is ``no_scanner`` or ``scanner_unreachable``."""

    def __init__(self, reason: str, detail: Text) -> None:
        super().__init__(str(detail))
        self.reason = reason
        self.detail = detail  # for staff (the Eingang page), German and English apart


class ScanLimitExceeded(Exception):
    """The scanner refuses files this large (clamd's StreamMaxLength)."""


class Scanner(Protocol):
    @property
    def name(self) -> str: ...

    def scan(self, path: Path) -> ScanVerdict: ...


# -- clamd ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Clamd:
    """clamd at a unix socket (a path) or TCP (``HOST:PORT``)."""

    address: str
    timeout: float = 30.0  # per socket operation; the whole scan gets more for large files
    bytes_per_second: float = 20 * 1024 * 1024

    @property
    def name(self) -> str:
        return f"clamd ({self.address})"

    def _connect(self, timeout: float) -> socket.socket:
        host, _, port = self.address.rpartition(":")
        if port.isdigit() and not self.address.startswith("/"):
            sock = socket.create_connection((host.strip("[]"), int(port)), timeout=timeout)
        else:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(timeout)
            try:
                sock.connect(self.address)
            except OSError:
                sock.close()
                raise
        return sock

    def _exchange(self, command: bytes, body: Path | None = None) -> str:
        size = body.stat().st_size if body is not None else 0
        deadline = time.monotonic() + self.timeout + size / self.bytes_per_second
        try:
            sock = self._connect(self.timeout)
        except OSError as exc:
            raise self._unreachable(exc) from None
        with sock:
            try:
                sock.sendall(b"z" + command + b"\0")
                if body is not None:
                    self._stream(sock, body, deadline)
            except (BrokenPipeError, ConnectionResetError):
                pass  # clamd answered (a limit) and closed: its answer is still there to read
            except OSError as exc:
                raise self._unreachable(exc) from None
            return self._answer(sock, deadline)

    def _unreachable(self, exc: OSError) -> ScannerUnavailable:
        return ScannerUnavailable("scanner_unreachable",
                                  Text.same(f"{self.name}: {exc.strerror or type(exc).__name__}"))

    def _stream(self, sock: socket.socket, body: Path, deadline: float) -> None:
        with body.open("rb") as handle:
            while chunk := handle.read(CHUNK):
                if time.monotonic() > deadline:
                    raise ScannerUnavailable("scanner_unreachable", Text(f"{self.name}: der Scan dauerte zu lange",
                                                                      f"{self.name}: the scan took too long"))
                sock.sendall(struct.pack("!L", len(chunk)) + chunk)
        sock.sendall(struct.pack("!L", 0))

    def _answer(self, sock: socket.socket, deadline: float) -> str:
        answer = b""
        try:
            while b"\0" not in answer and len(answer) < MAX_ANSWER:
                sock.settimeout(max(0.1, min(self.timeout, deadline - time.monotonic())))
                chunk = sock.recv(MAX_ANSWER)
                if not chunk:
                    break
                answer += chunk
        except OSError as exc:
            why = type(exc).__name__
            raise ScannerUnavailable("scanner_unreachable", Text(f"{self.name}: keine Antwort ({why})",
                                                                  f"{self.name}: no answer ({why})")) from None
        text = answer.split(b"\0", 1)[0].decode("utf-8", "replace").strip()
        if not text:
            raise ScannerUnavailable("scanner_unreachable",
                                     Text(f"{self.name}: keine Antwort", f"{self.name}: no answer"))
        return text

    def version(self) -> str:
        return self._exchange(b"VERSION")

    def scan(self, path: Path) -> ScanVerdict:
        answer = self._exchange(b"INSTREAM", path)
        if answer == "stream: OK":
            return ScanVerdict(True, None, self.name)
        if "size limit exceeded" in answer:
            raise ScanLimitExceeded(answer)
        found = _FOUND.match(answer)
        if found and not answer.endswith("ERROR"):
            return ScanVerdict(False, found["name"], self.name)
        raise ScannerUnavailable("scanner_unreachable", Text.same(f"{self.name}: {answer[:200]}"))


# -- Microsoft Defender -----------------------------------------------------------------------


@dataclass(frozen=True)
class Defender:
    """Microsoft Defender's command line (Windows)."""

    program: Path = DEFENDER
    timeout: float = 300.0

    @property
    def name(self) -> str:
        return "Microsoft Defender"

    def command(self, path: Path) -> list[str]:
        return [str(self.program), "-Scan", "-ScanType", "3", "-File", str(path), "-DisableRemediation"]

    def scan(self, path: Path) -> ScanVerdict:
        code, output = _run(self.command(path), self.timeout, self.name)
        return self.verdict(code, output)

    def verdict(self, code: int, output: str) -> ScanVerdict:
        """Exit code 0: clean; 2 with ``Threat :`` lines: infected; anything else fails."""
        threats = [m["name"] for m in _THREAT.finditer(output)]
        if code == 0 and not threats:
            return ScanVerdict(True, None, self.name)
        if code == 2 and threats:
            return ScanVerdict(False, ", ".join(dict.fromkeys(threats)), self.name)
        raise _exit_code(self.name, code)


# -- a command the administrator configures ----------------------------------------------------


@dataclass(frozen=True)
class CommandScanner:
    """``scanner_command``: an argument list with ``{file}``; exit 0 clean, 1 infected."""

    template: Sequence[str]
    timeout: float = 300.0

    @classmethod
    def parse(cls, line: str, timeout: float) -> CommandScanner:
        argv = shlex.split(line, posix=os.name != "nt")
        if not argv or not any("{file}" in a for a in argv):
            raise ValueError("scanner_command needs a program and {file}")
        return cls(tuple(argv), timeout)

    @property
    def name(self) -> str:
        return f"command ({Path(self.template[0]).name})"

    def command(self, path: Path) -> list[str]:
        return [a.replace("{file}", str(path)) for a in self.template]

    def scan(self, path: Path) -> ScanVerdict:
        code, output = _run(self.command(path), self.timeout, self.name)
        if code == 0:
            return ScanVerdict(True, None, self.name)
        if code == 1:
            names = [m["name"] for line in output.splitlines() if (m := _FOUND.match(line.strip()))]
            return ScanVerdict(False, names[0] if names else None, self.name)
        raise _exit_code(self.name, code)


def _exit_code(name: str, code: int) -> ScannerUnavailable:
    """A scanner program ended with a code that means neither clean nor infected."""
    return ScannerUnavailable("scanner_unreachable", Text(f"{name}: Rückgabewert {code}", f"{name}: exit code {code}"))


def _run(argv: list[str], timeout: float, name: str) -> tuple[int, str]:
    """Run a scanner program (never a shell); its exit code and output (bounded)."""
    try:
        done = subprocess.run(argv, capture_output=True, timeout=timeout, check=False, stdin=subprocess.DEVNULL)  # noqa: S603
    except FileNotFoundError:
        raise ScannerUnavailable("scanner_unreachable", Text(f"{name}: Programm nicht gefunden",
                                                             f"{name}: program not found")) from None
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ScannerUnavailable("scanner_unreachable", Text.same(f"{name}: {type(exc).__name__}")) from None
    return done.returncode, (done.stdout[-65536:] + done.stderr[-65536:]).decode("utf-8", "replace")


# -- which one ----------------------------------------------------------------------------------


def configured_scanner(scanner: str, clamd_address: str, defender_path: str, command: str,
                       timeout: float) -> Scanner:
    """The scanner the settings name. ``auto``: clamd at the configured address or its usual
    sockets, else Defender where it is installed. Raises :class:`ScannerUnavailable`."""
    if scanner == "none":
        raise ScannerUnavailable("no_scanner", Text.same("scanner = none"))
    if scanner == "command":
        if not command:
            raise ScannerUnavailable("no_scanner", Text(
                "scanner = command, aber kein scanner_command in der Richtlinie",
                "scanner = command, but no scanner_command in the policy"))
        try:
            return CommandScanner.parse(command, timeout)
        except ValueError as exc:
            raise ScannerUnavailable("no_scanner", Text.same(str(exc))) from None
    if scanner == "defender" or (scanner == "auto" and sys.platform == "win32" and not clamd_address):
        program = Path(defender_path) if defender_path else DEFENDER
        if scanner == "defender" or program.is_file():
            return Defender(program, timeout)
    if scanner in ("clamd", "auto"):
        if clamd_address:
            return Clamd(clamd_address)
        with contextlib.suppress(StopIteration):
            return Clamd(next(p for p in CLAMD_SOCKETS if Path(p).exists()))
    if scanner not in ("auto", "clamd", "defender"):
        raise ScannerUnavailable("no_scanner", Text(f"unbekannte Einstellung scanner = {scanner!r}",
                                                   f"unknown scanner setting {scanner!r}"))
    raise ScannerUnavailable("no_scanner", Text("kein Virenscanner gefunden (clamd, Defender)",
                                               "no virus scanner found (clamd, Defender)"))
