"""Which gpg the client runs: resolved once per process, never through ``PATH``.

gpg sees the practice key's passphrase and every document in clear. ``PATH`` is the
user's - and a LaunchAgent's or a service's may list folders an ordinary account can
write (Homebrew's) before the system's - so a ``gpg`` planted in one of them would run
in the agent of every user. The client therefore runs either

- the administrator's ``gpg_binary`` (a setting the policy can lock): an absolute path to
  an executable file, taken as given - the administrator vouches for it; or
- the first gpg in the operating system's fixed install places (Gpg4win's folder from the
  machine-wide registry on Windows, MacGPG2 / Homebrew on macOS, ``/usr/bin`` elsewhere),
  and on POSIX only one that nobody but root can replace: the file and every folder above
  it owned by root and writable by root only.

Its version is checked once, with a message that says what to install: the client relies
on options GnuPG added in 2.2.7 (``--no-symkey-cache``; ``--unwrap`` came in 2.2.5).
"""

from __future__ import annotations

import logging
import os
import re
import stat
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

from practice_client.core.errors import CryptoError
from practice_client.core.text import Text

log = logging.getLogger(__name__)

MIN_VERSION = (2, 2, 7)
VERSION_RE = re.compile(r"^gpg \(GnuPG[^)]*\) (\d+)\.(\d+)\.(\d+)", re.MULTILINE)
POSIX_PLACES = {
    "darwin": ("/usr/local/MacGPG2/bin/gpg", "/opt/homebrew/bin/gpg", "/usr/local/bin/gpg"),
    "other": ("/usr/bin/gpg", "/usr/local/bin/gpg", "/bin/gpg"),
}
WINDOWS_PLACES = (r"C:\Program Files (x86)\GnuPG\bin\gpg.exe", r"C:\Program Files\GnuPG\bin\gpg.exe")

_lock = threading.Lock()
_resolved: dict[str, GpgProgram] = {}
_selected: GpgProgram | None = None


@dataclass(frozen=True)
class GpgProgram:
    """A gpg the client may run, and its version."""

    path: str
    version: tuple[int, int, int]

    @property
    def version_text(self) -> str:
        return ".".join(map(str, self.version))


def not_root_only(path: Path) -> str | None:
    """Why ``path`` (resolved) could be replaced by someone other than root, or None."""
    real = path.resolve()
    for part in (real, *real.parents):
        info = part.stat()
        if info.st_uid != 0:
            return f"{part} belongs to uid {info.st_uid}"
        if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
            return f"{part} is writable by others than root"
    return None


def _windows_places() -> list[str]:  # pragma: no cover - Windows only
    places = list(WINDOWS_PLACES)
    try:
        import winreg  # type: ignore[import-not-found,unused-ignore]

        for view in (winreg.KEY_WOW64_32KEY, winreg.KEY_WOW64_64KEY):  # type: ignore[attr-defined,unused-ignore]
            try:
                with winreg.OpenKey(winreg.HKEY_LOCAL_MACHINE, r"Software\GnuPG", 0,  # type: ignore[attr-defined,unused-ignore]
                                    winreg.KEY_READ | view) as key:  # type: ignore[attr-defined,unused-ignore]
                    folder = winreg.QueryValueEx(key, "Install Directory")[0]  # type: ignore[attr-defined,unused-ignore]
                places.insert(0, str(Path(folder) / "bin" / "gpg.exe"))
            except OSError:
                continue
    except ImportError:
        pass
    return places


def candidates() -> list[str]:
    """The OS's install places of GnuPG, most specific first."""
    if sys.platform == "win32":  # pragma: no cover - Windows only
        return _windows_places()
    return list(POSIX_PLACES["darwin" if sys.platform == "darwin" else "other"])


def gpg_version(path: str) -> tuple[int, int, int]:
    """The version ``path --version`` reports; :class:`CryptoError` if it is no gpg."""
    try:
        result = subprocess.run(  # noqa: S603 - an absolute path we resolved
            [path, "--version"], capture_output=True, text=True, timeout=30,
            env={"LC_ALL": "C", "PATH": os.defpath}, check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise CryptoError(f"{path}: GnuPG does not start ({type(exc).__name__})") from None
    found = VERSION_RE.search(result.stdout)
    if result.returncode != 0 or found is None:
        raise CryptoError(f"{path}: not GnuPG (its --version names no 'gpg (GnuPG) X.Y.Z')")
    major, minor, patch = (int(g) for g in found.groups())
    return major, minor, patch


def _checked(path: str) -> GpgProgram:
    version = gpg_version(path)
    if version < MIN_VERSION:
        need = ".".join(map(str, MIN_VERSION))
        have = ".".join(map(str, version))
        raise CryptoError(Text(
            f"GnuPG {have} ist zu alt, nötig ist {need} oder neuer (Gpg4win 3.1+, GPG Suite 2018.3+, "
            "ein aktuelles Paket der Distribution)",
            f"GnuPG {have} is too old: the Practice Client needs {need} or later (Gpg4win 3.1+, "
            "GPG Suite 2018.3+, a current distribution package)",
        ).prefixed(f"{path}: "))
    return GpgProgram(path, version)


def resolve_gpg(configured: str = "") -> GpgProgram:
    """The gpg to run for ``configured`` (the ``gpg_binary`` setting; empty: search the
    OS's places), checked once per process and value."""
    with _lock:
        if configured in _resolved:
            return _resolved[configured]
    if configured:
        path = Path(configured)
        if not path.is_absolute():
            raise CryptoError(f"gpg_binary: '{configured}' is not an absolute path")
        if not path.is_file() or not os.access(path, os.X_OK):
            raise CryptoError(f"gpg_binary: {configured} is not an executable file")
        program = _checked(str(path))
    else:
        refused: list[str] = []
        found: str | None = None
        for place in candidates():
            if not Path(place).is_file():
                continue
            problem = None if sys.platform == "win32" else not_root_only(Path(place))
            if problem is None:
                found = place
                break
            refused.append(f"{place} not used: {problem}")
        if found is None:
            detail = "; ".join(refused) or f"none of {', '.join(candidates())} exists"
            raise CryptoError(Text(
                f"GnuPG nicht gefunden ({detail}): GnuPG für alle Benutzer installieren (Gpg4win, "
                "GPG Suite, das Paket der Distribution) oder gpg_binary setzen",
                f"no usable GnuPG found ({detail}): install GnuPG for all users (Gpg4win, GPG Suite, "
                "the distribution package) or set gpg_binary",
            ))
        program = _checked(found)
    log.info("gpg %s at %s", program.version_text, program.path)
    with _lock:
        _resolved[configured] = program
    return program


def select_gpg(configured: str = "") -> GpgProgram:
    """Resolve and check the configured gpg once at start; every later :func:`gpg_path`
    of this process (throw-away homes too) runs this one."""
    global _selected
    program = resolve_gpg(configured)
    with _lock:
        _selected = program
    return program


def gpg_path() -> str:
    """The gpg this process runs: the selected one, else the one the OS places hold."""
    with _lock:
        selected = _selected
    return (selected or resolve_gpg()).path
