"""The diagnostics export: one zip staff can send to their IT provider.

``diagnostics.zip`` holds ``README.txt`` (what is inside, German and English),
``summary.json`` (versions of the client, Python, Qt, GnuPG and the OS; the
settings and the administrator's policy; which secrets the keyring holds - never
their values; the audit chain's verification; outbox and request counts) and
``log.txt`` (the most recent lines of the shared log).

The log should never contain patient data or secrets (logs.py); the export does
not rely on it. Before anything is written, every line is scrubbed of: the values
of the keyring's secrets and of everything this process registered as sensitive;
every name part, birth date and phone number the store knows of a patient (PMS
master data, pinned trust certificates, the claims of received requests); and any
valid phone number at all. The file is written atomically (temp + fsync + rename).

Every section is collected on its own: a locked keyring or a damaged database
makes that section say so, it never stops the export - it is for when things are
broken. Qt-free: the GUI calls :func:`export_diagnostics` from a worker.
"""

from __future__ import annotations

import importlib.metadata
import io
import json
import platform
import re
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from practice_client import __version__
from practice_client.core.atomic import atomic_write
from practice_client.core.config import Config
from practice_client.core.errors import InputError
from practice_client.core.logs import BACKUPS, MAX_BYTES, REDACTED, log_file, sensitive_values
from practice_client.core.phone import normalize_phone
from practice_client.core.secrets import DATABASE_KEY, IMAP_PASSWORD, PLATFORM_TOKEN, PRACTICE_KEY_PASSPHRASE
from practice_client.core.text import Text

if TYPE_CHECKING:
    from practice_client.context import Context
    from practice_client.core.store import Store

LOG_LINES = 2000
LOG_BYTES = 1024 * 1024
SECRET_NAMES = (PLATFORM_TOKEN, PRACTICE_KEY_PASSPHRASE, DATABASE_KEY, IMAP_PASSWORD)
_SECRET_WORDS = ("password", "passphrase", "token", "secret")  # never exported, whatever the setting
_WORD_RE = re.compile(r"\w+")
_DATE_RE = re.compile(r"(?<![\w.-])(\d{4})-(\d{2})-(\d{2})(?![\w-])|(?<![\w.])(\d{1,2})\.(\d{1,2})\.(\d{4})(?![\w.])")
_LOG_WORDS = frozenset({"debug", "info", "warning", "error", "critical"})  # the format's own words stay
_PHONE_RE = re.compile(r"(?<![\w+-])(?:\+|0)[\d][\d \-/()]{5,20}\d(?![\w-])")

README = """Practice Client - Diagnose / diagnostics

Deutsch: Diese Datei ist für Ihren IT-Dienstleister. Sie enthält Programmversionen,
Einstellungen (ohne Geheimnisse), die Richtlinie des Administrators, den Zustand des
Prüfprotokolls und des Postausgangs und die letzten Zeilen des Protokolls. Namen,
Geburtsdaten und Telefonnummern von Patienten sowie Passwörter und Schlüssel sind
entfernt ("[redacted]").

English: this file is for your IT provider. It holds program versions, settings
(without secrets), the administrator's policy, the state of the audit log and the
outbox, and the most recent log lines. Patients' names, birth dates and phone
numbers, and passwords and keys, are removed ("[redacted]").
"""


@dataclass(frozen=True)
class DiagnosticsReport:
    """What was written: the file, how many log lines, how many values were removed."""

    path: Path
    log_lines: int
    redactions: int


# -- scrubbing -----------------------------------------------------------------------


@dataclass
class Scrubber:
    """Removes secrets (anywhere in a line) and patient data (whole words, dates, phones)."""

    secrets: frozenset[str]
    words: frozenset[str]  # case-folded name parts
    dates: frozenset[str]  # ISO birth dates
    count: int = 0

    def __call__(self, text: str) -> str:
        for secret in sorted(self.secrets, key=len, reverse=True):
            if secret in text:
                self.count += text.count(secret)
                text = text.replace(secret, REDACTED)
        text = _DATE_RE.sub(self._date, text)
        text = _PHONE_RE.sub(self._phone, text)
        return _WORD_RE.sub(self._word, text)

    def _hit(self) -> str:
        self.count += 1
        return REDACTED

    def _word(self, match: re.Match[str]) -> str:
        return self._hit() if match.group().casefold() in self.words else match.group()

    def _date(self, match: re.Match[str]) -> str:
        if match.group(1):
            iso = f"{match.group(1)}-{match.group(2)}-{match.group(3)}"
        else:
            iso = f"{match.group(6)}-{int(match.group(5)):02d}-{int(match.group(4)):02d}"
        return self._hit() if iso in self.dates else match.group()

    def _phone(self, match: re.Match[str]) -> str:
        """The longest valid number at the start of the match (it may run on into other digits)."""
        text = match.group()
        parts = text.split(" ")
        for n in range(len(parts), 0, -1):
            head = " ".join(parts[:n])
            if normalize_phone(head):
                return self._hit() + text[len(head):]
        return text


def _patient_values(store: Store) -> tuple[set[str], set[str], set[str]]:
    """(name parts, ISO birth dates, phone numbers) of every patient the store knows."""
    names: list[str] = []
    dates: set[str] = set()
    phones: set[str] = set()
    for patient in store.list_patients():
        names.append(patient.name)
        dates.add(patient.birth_date)
        phones.add(patient.phone or "")
    for pin in store.list_pins():
        names.append(pin.name)
        dates.add(pin.birth_date)
        phones.add(pin.phone)
    for record in store.list_requests():
        claimed = record.summary.get("patient")
        if isinstance(claimed, dict):
            names.append(str(claimed.get("name", "")))
            dates.add(str(claimed.get("birth_date", "")))
            phones.add(str(claimed.get("phone", "")))
    words = {w.casefold() for name in names for w in _WORD_RE.findall(name) if len(w) >= 3} - _LOG_WORDS
    # a birth date also appears as TTMMJJJJ (GDT, file names)
    words |= {f"{d[8:10]}{d[5:7]}{d[0:4]}" for d in dates if len(d) == 10}
    return words, {d for d in dates if d}, {p for p in phones if p}


def _keyring_secrets(ctx: Context) -> tuple[set[str], dict[str, str]]:
    """The keyring's values (to redact) and, per name, whether it holds one (to report)."""
    values: set[str] = set()
    state: dict[str, str] = {}
    for name in SECRET_NAMES:
        try:
            value = ctx.secrets.get(name)
        except Exception as exc:  # noqa: BLE001 - a locked or missing keyring is a finding
            state[name] = f"keyring error ({type(exc).__name__})"
            continue
        state[name] = "present" if value else "missing"
        if value:
            values.add(value)
    return values, state


# -- the sections ----------------------------------------------------------------------


def _distribution_version(*names: str) -> str:
    for name in names:
        try:
            return f"{name} {importlib.metadata.version(name)}"
        except importlib.metadata.PackageNotFoundError:
            continue
    return "not installed"


def _gpg_version() -> str:
    binary = shutil.which("gpg")
    if binary is None:
        return "gpg not found on the PATH"
    try:
        out = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=15, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"gpg did not answer ({type(exc).__name__})"
    first = out.stdout.splitlines()[0] if out.stdout else ""
    return first or f"gpg exited {out.returncode}"


def versions() -> dict[str, str]:
    return {
        "practice_client": __version__,
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "qt": _distribution_version("PySide6-Essentials", "PySide6"),
        "gnupg": _gpg_version(),
        "os": platform.platform(),
        "machine": platform.machine(),
        "frozen": str(bool(getattr(sys, "frozen", False))),
    }


def _without_secrets(values: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if not any(w in k.lower() for w in _SECRET_WORDS)}


def _settings(config: Config) -> dict[str, Any]:
    values = {f.name: getattr(config, f.name) for f in fields(Config) if f.name != "locked"}
    return {"values": _without_secrets(values), "locked": sorted(config.locked)}


def _policy(ctx: Context) -> dict[str, Any]:
    return {"source": ctx.policy.source or "none", "values": _without_secrets(dict(ctx.policy.values)),
            "locked": sorted(ctx.policy.locked)}


def _store_state(store: Store) -> dict[str, Any]:
    audit = store.verify_audit()
    return {
        "audit": {"ok": audit.ok, "entries": audit.entries, "problem": audit.problem},
        "outbox": {str(state): n for state, n in store.document_counts().items()},
        "requests": {str(status): n for status, n in store.request_counts().items()},
        "patients": store.count_patients(),
        "pins": store.patient_counts()[1],
    }


def recent_log_lines(log_dir: Path, limit: int = LOG_LINES, limit_bytes: int = LOG_BYTES) -> list[str]:
    """The last ``limit`` lines of the shared log, across its rotated files (oldest first)."""
    current = log_file(log_dir)
    files = [current.with_name(f"{current.name}.{n}") for n in range(BACKUPS, 0, -1)] + [current]
    lines: list[str] = []
    for path in reversed(files):  # newest first, until enough
        try:
            with path.open("rb") as handle:
                size = handle.seek(0, io.SEEK_END)
                handle.seek(max(0, size - 2 * MAX_BYTES))
                text = handle.read().decode("utf-8", "replace")
        except FileNotFoundError:
            continue
        lines = text.splitlines() + lines
        if len(lines) >= limit:
            break
    lines = lines[-limit:]
    while lines and sum(len(line) + 1 for line in lines) > limit_bytes:
        lines = lines[len(lines) // 10 or 1:]
    return lines


def _section(errors: dict[str, str], name: str, collect: Callable[[], Any]) -> Any:
    try:
        return collect()
    except Exception as exc:  # noqa: BLE001 - a broken part is reported, the export goes on
        errors[name] = f"{type(exc).__name__}: {str(exc)[:200]}"
        return None


# -- the export ----------------------------------------------------------------------------


def build_diagnostics(ctx: Context) -> tuple[bytes, int, int]:
    """The zip's bytes, the number of log lines in it and the number of values removed."""
    errors: dict[str, str] = {}
    secrets, secret_state = _keyring_secrets(ctx)
    words: set[str] = set()
    dates: set[str] = set()
    phones: set[str] = set()
    state: dict[str, Any] | None = None
    if ctx.home.database.exists():
        state = _section(errors, "store", lambda: _store_state(ctx.store))
        found = _section(errors, "patients", lambda: _patient_values(ctx.store))
        if found is not None:
            words, dates, phones = found
    scrub = Scrubber(frozenset(secrets | sensitive_values() | phones), frozenset(words), frozenset(dates))
    lines = [scrub(line) for line in recent_log_lines(ctx.home.logs)]
    summary = {
        "created_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "versions": versions(),
        "home": str(ctx.home.root),
        "settings": _settings(ctx.config),
        "policy": _policy(ctx),
        "secrets": secret_state,
        "state": state if state is not None else ("not set up" if not ctx.home.database.exists() else None),
        "log": {"file": str(log_file(ctx.home.logs)), "lines": len(lines)},
        "errors": errors,
    }
    summary_text = scrub(json.dumps(summary, ensure_ascii=False, indent=2, sort_keys=True, default=str))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("README.txt", README)
        archive.writestr("summary.json", summary_text + "\n")
        archive.writestr("log.txt", "\n".join(lines) + ("\n" if lines else ""))
    return buffer.getvalue(), len(lines), scrub.count


def export_diagnostics(ctx: Context, target: Path) -> DiagnosticsReport:
    """Write the diagnostics zip to ``target`` atomically; InputError when the folder is
    missing. MUST NOT run on the GUI thread (reads the store and the log, runs gpg)."""
    target = Path(target)
    if not target.parent.is_dir():
        raise InputError(target, Text("der Ordner existiert nicht", "the folder does not exist"))
    data, lines, removed = build_diagnostics(ctx)
    try:
        atomic_write(target, data, mode=0o600)
    except OSError as exc:
        raise InputError(target, Text(f"kann nicht geschrieben werden ({exc.strerror})",
                                     f"cannot be written ({exc.strerror})")) from None
    return DiagnosticsReport(target, lines, removed)
