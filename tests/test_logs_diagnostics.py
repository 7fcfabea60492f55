"""Logs for support: one log written by several processes at once, the debug switch, and the
diagnostics export that never carries patient data or secrets."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest

from practice_client.context import Context
from practice_client.core.logs import LOG_NAME, register_sensitive
from practice_client.core.secrets import PLATFORM_TOKEN
from practice_client.diagnostics import Scrubber, export_diagnostics
from tests.support.cli import run_cli
from tests.support.patients import ERIKA

WRITER = textwrap.dedent("""
    import logging, sys
    from pathlib import Path
    from practice_client.core.logs import setup_logging
    directory, name, count = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    setup_logging(directory, max_bytes=16 * 1024, backups=200)
    log = logging.getLogger("writer")
    print("ready", flush=True)
    sys.stdin.readline()  # every writer starts at once
    for n in range(count):
        log.info("writer=%s line=%05d %s", name, n, "x" * 60)
""")


def test_several_processes_lose_no_line_across_rotations(tmp_path: Path) -> None:
    writers, lines_each = 4, 1500
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, str(tmp_path), f"p{i}", str(lines_each)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
             for i in range(writers)]
    for proc in procs:
        assert proc.stdout is not None and proc.stdout.readline() == "ready\n"
    for proc in procs:
        assert proc.stdin is not None
        proc.stdin.write("go\n")
        proc.stdin.flush()
    for proc in procs:
        assert proc.wait(timeout=240) == 0
    files = sorted(tmp_path.glob(LOG_NAME + "*"))
    assert len(files) > 10  # the writers rotated the file many times
    seen: list[tuple[str, int]] = []
    for path in files:
        for line in path.read_text(encoding="utf-8").splitlines():
            head, _, rest = line.partition(" writer=")
            assert rest, f"torn line in {path.name}: {line[:80]!r}"
            name, number, padding = rest.split(" ")
            assert padding == "x" * 60 and number.startswith("line=")
            seen.append((name, int(number[5:])))
    assert len(seen) == len(set(seen))  # nothing written twice
    assert set(seen) == {(f"p{i}", n) for i in range(writers) for n in range(lines_each)}  # nothing lost


def _log_text(home: Path) -> str:
    return "".join(p.read_text(encoding="utf-8") for p in (home / "logs").glob(LOG_NAME + "*"))


def test_debug_switch_option_environment_and_policy_lock(client_home: Path, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    assert run_cli("diagnostics", "export", str(tmp_path / "a.zip")).returncode == 0
    assert " DEBUG " not in _log_text(client_home)
    assert run_cli("--debug", "diagnostics", "export", str(tmp_path / "b.zip")).returncode == 0
    assert " DEBUG " in _log_text(client_home)
    for path in (client_home / "logs").glob(LOG_NAME + "*"):
        path.unlink()
    monkeypatch.setenv("PRACTICE_CLIENT_DEBUG", "1")
    assert run_cli("diagnostics", "export", str(tmp_path / "c.zip")).returncode == 0
    assert " DEBUG " in _log_text(client_home)
    for path in (client_home / "logs").glob(LOG_NAME + "*"):
        path.unlink()
    policy = tmp_path / "policy.toml"
    policy.write_text('debug_logging = false\nlocked = ["debug_logging"]\n')
    monkeypatch.setenv("PRACTICE_CLIENT_POLICY", str(policy))
    assert run_cli("--debug", "diagnostics", "export", str(tmp_path / "d.zip")).returncode == 0
    assert " DEBUG " not in _log_text(client_home)  # the administrator's lock stands


def _zip_text(path: Path) -> str:
    with zipfile.ZipFile(path) as archive:
        return "\n".join(archive.read(name).decode("utf-8") for name in archive.namelist())


def _leaks(text: str, values: list[str]) -> list[str]:
    return [v for v in values if v.casefold() in text.casefold()]


def test_export_never_carries_patient_data_or_secrets(client_home: Path, tmp_path: Path) -> None:
    ctx = Context()
    try:
        ctx.store.upsert_patients([ERIKA], "test")
        token = "platform-token-Zq81xVv0pL"
        ctx.secrets.set(PLATFORM_TOKEN, token)
        registered = "registered-secret-7Hq2Lm"
        register_sensitive(registered)
        # Lines as a careless library or an older version might have written them, by another process
        # that knew none of these values: the export must not rely on the log being clean.
        with (client_home / "logs" / LOG_NAME).open("a", encoding="utf-8") as log:
            log.write("2026-12-01 10:00:00,000 INFO pid=1 lib [T] request 9f1c2a3b for Erika Mustermann\n"
                      "2026-12-01 10:00:01,000 INFO pid=1 lib [T] MUSTERMANN, erika; born 12.08.1964 / 1964-08-12\n"
                      "2026-12-01 10:00:02,000 INFO pid=1 lib [T] phone 0171 1234567 or +491711234567 (GDT 12081964)\n"
                      f"2026-12-01 10:00:03,000 INFO pid=1 lib [T] Authorization: Bearer {token}\n"
                      f"2026-12-01 10:00:04,000 DEBUG pid=1 lib [T] passphrase={registered}\n"
                      "2026-12-01 10:00:05,000 INFO pid=1 lib [T] document 3f2a9e00 uploaded\n")
        report = export_diagnostics(ctx, tmp_path / "in-process.zip")
    finally:
        ctx.close()
    text = _zip_text(report.path)
    forbidden = ["Erika", "Mustermann", "12.08.1964", "1964-08-12", "12081964", "0171 1234567",
                 "+491711234567", "1711234567", token, registered]
    assert _leaks(text, forbidden) == []
    assert "request 9f1c2a3b for [redacted]" in text and "document 3f2a9e00 uploaded" in text  # support still reads it
    assert report.redactions >= 10
    # the same through the command line, in a process that registered nothing
    done = run_cli("diagnostics", "export", str(tmp_path / "cli.zip"))
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("\n") == 1
    cli_text = _zip_text(tmp_path / "cli.zip")
    assert _leaks(cli_text, [v for v in forbidden if v != registered]) == []
    summary = json.loads(zipfile.ZipFile(tmp_path / "cli.zip").read("summary.json"))
    assert summary["secrets"][PLATFORM_TOKEN] == "present"
    assert summary["state"]["audit"]["ok"] is True
    assert summary["state"]["patients"] == 1
    assert {"practice_client", "python", "qt", "gnupg", "os"} <= set(summary["versions"])
    assert summary["versions"]["gnupg"].startswith("gpg (GnuPG)")


def test_export_to_a_missing_folder_is_one_line_and_writes_nothing(client_home: Path, tmp_path: Path) -> None:
    target = tmp_path / "missing" / "d.zip"
    done = run_cli("diagnostics", "export", str(target))
    assert done.returncode == 1 and done.stderr.count("\n") == 1 and str(target) in done.stderr
    assert not target.parent.exists()


def test_scrubber_keeps_identifiers_and_timestamps() -> None:
    scrub = Scrubber(frozenset({"s3cr3t-value"}), frozenset({"mustermann"}), frozenset({"1964-08-12"}))
    line = ("2026-12-01 10:00:00,123 INFO pid=4242 practice_client.delivery [upload-1] document "
            "550e8400-e29b-41d4-a716-446655440000 (1048576 bytes) delivered, fingerprint 0123456789ABCDEF")
    assert scrub(line) == line and scrub.count == 0
    assert scrub("Mustermann s3cr3t-value 0171 1234567 42") == "[redacted] [redacted] [redacted] 42"
