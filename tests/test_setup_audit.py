"""setup --offline, key export and the audit chain, through the real command line."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from practice_client.crypto.gpg import inspect_keys
from tests.support.cli import run_cli as run


def setup_offline(ident_key: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return run(
        "setup", "--server", "https://platform.test", "--practice-id", "praxis-1",
        "--platform-domain", "platform.test", "--ident-key", str(ident_key), "--offline",
        "--token-stdin", *extra, stdin="secret-token-123456\n",
    )


def test_setup_offline_creates_key_keeps_token_out_of_files(client_home: Path, ident_key: Path) -> None:
    result = setup_offline(ident_key)
    assert result.returncode == 0, result.stderr
    exported = run("key", "export")
    assert exported.returncode == 0, exported.stderr
    keys = inspect_keys(exported.stdout)
    assert len(keys) == 1 and keys[0].can_sign and keys[0].encryption_subkeys
    config = (client_home / "config.toml").read_text()
    assert keys[0].fingerprint in config
    for path in client_home.rglob("*"):
        if path.is_file() and not path.is_socket():
            assert b"secret-token-123456" not in path.read_bytes(), path
    # re-running setup keeps the key
    again = setup_offline(ident_key)
    assert again.returncode == 0 and "kept" in again.stdout


def test_setup_refuses_plain_http_and_changes_nothing(client_home: Path, ident_key: Path) -> None:
    result = run(
        "setup", "--server", "http://platform.test", "--practice-id", "p", "--platform-domain",
        "platform.test", "--ident-key", str(ident_key), "--offline",
    )
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and "https" in result.stderr
    assert not (client_home / "config.toml").exists()


def test_audit_verify_detects_edited_removed_and_reordered_lines(client_home: Path, ident_key: Path) -> None:
    assert setup_offline(ident_key).returncode == 0
    assert run("key", "export").returncode == 0
    assert run("key", "export").returncode == 0
    ok = run("audit", "verify")
    assert ok.returncode == 0, ok.stderr
    log = client_home / "audit.jsonl"
    original = log.read_bytes()
    lines = original.splitlines(keepends=True)
    assert len(lines) >= 4

    record = json.loads(lines[1])
    record["details"]["fingerprint"] = "0" * 40
    edited = lines[:1] + [json.dumps(record, sort_keys=True).encode() + b"\n"] + lines[2:]
    for tampered in (edited, lines[:1] + lines[2:], [lines[1], lines[0], *lines[2:]], lines[:-1]):
        log.write_bytes(b"".join(tampered))
        bad = run("audit", "verify", "--full")
        assert bad.returncode == 1, tampered
        assert "audit.jsonl" in bad.stderr and bad.stderr.count("\n") == 1
    log.write_bytes(original)
    assert run("audit", "verify", "--full").returncode == 0
    # the quick check (only what is new since the last one, and the seam to it) sees a cut end too
    log.write_bytes(b"".join(lines[:-1]))
    assert run("audit", "verify").returncode == 1
