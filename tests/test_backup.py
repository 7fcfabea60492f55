"""key backup / key restore through the real command line: a round trip into a fresh
home, and refusals (wrong passphrase, damaged file, another key) that change nothing."""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import kill_agents, require, short_tmpdir

from practice_client.crypto.gpg import Gpg, inspect_keys
from practice_client.testbed.identity import IdentityAuthority
from tests.support.trust import configure_home, copy_home, one_line_error, run

HEADER = "patient_number,name,birth_date,phone\n1,A B,1970-01-01,\n"


@dataclass
class Keys:
    """Two configured homes (two practice keys) and a backup of the first."""

    home_a: Path
    home_b: Path
    backup: Path
    code: str
    public_a: str


@pytest.fixture(scope="module")
def keys() -> Iterator[Keys]:
    """Key generation is slow: set up once per module; tests copy these homes."""
    import keyring

    backend = type(keyring.get_keyring()).__module__
    require("fail" not in backend and "keyrings.alt" not in backend, "a real OS keyring backend")
    root = short_tmpdir("pckb")
    authority = IdentityAuthority.create(root / "auth")
    (root / "ident.asc").write_text(authority.public_key())
    configure_home(root / "a", root / "ident.asc", HEADER)
    configure_home(root / "b", root / "ident.asc", HEADER)
    previous = os.environ.get("PRACTICE_CLIENT_HOME")
    in_home(root / "a")
    try:
        made = run("key", "backup", str(root / "practice-key.backup"))
        assert made.returncode == 0, made.stderr
        code = re.search(r"\b([A-Z2-9]{5}(?:-[A-Z2-9]{5}){4})\b", made.stdout)
        assert code is not None, made.stdout
        public = run("key", "export").stdout
    finally:
        if previous is None:
            del os.environ["PRACTICE_CLIENT_HOME"]
        else:
            os.environ["PRACTICE_CLIENT_HOME"] = previous
    kill_agents(root)
    yield Keys(root / "a", root / "b", root / "practice-key.backup", code.group(1), public)
    kill_agents(root)
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def fresh_home(keyring_backend: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A second, empty home (own instance id, so own keyring entries), made current."""
    root = short_tmpdir("pcf")
    monkeypatch.setenv("PRACTICE_CLIENT_HOME", str(root))
    yield root
    kill_agents(root)
    shutil.rmtree(root, ignore_errors=True)


def in_home(home: Path) -> None:
    os.environ["PRACTICE_CLIENT_HOME"] = str(home)


def secret_fingerprints(home: Path) -> list[str]:
    if not (home / "gnupg").exists():
        return []
    gpg = Gpg(home / "gnupg")
    try:
        return [str(k["fingerprint"]) for k in gpg._gpg.list_keys(secret=True)]
    finally:
        gpg.kill_agent()


def assert_unchanged(home: Path, before: dict[str, object]) -> None:
    assert snapshot(home) == before


def snapshot(home: Path) -> dict[str, object]:
    config = home / "config.toml"
    return {
        "config": config.read_text() if config.exists() else None,
        "secrets": secret_fingerprints(home),
        "audit": (home / "audit.jsonl").read_text() if (home / "audit.jsonl").exists() else None,
    }


def test_round_trip_into_a_fresh_home(keys: Keys, work_dir: Path, fresh_home: Path) -> None:
    content = keys.backup.read_bytes()
    assert content.startswith(b"-----BEGIN PGP MESSAGE-----") and b"PRIVATE KEY" not in content
    assert stat.S_IMODE(keys.backup.stat().st_mode) == 0o600
    events = [json.loads(x)["event"] for x in (keys.home_a / "audit.jsonl").read_text().splitlines()]
    assert "key.backup_created" in events

    typed = keys.code.lower().replace("-", " ")  # written down and typed back with other spacing
    restored = run("key", "restore", str(keys.backup), "--passphrase-stdin", stdin=typed + "\n")
    assert restored.returncode == 0, restored.stderr
    assert inspect_keys(run("key", "export").stdout)[0].fingerprint == inspect_keys(keys.public_a)[0].fingerprint
    # the passphrase went to the keyring: the restored key can be exported (unlocked) again
    again = run("key", "backup", str(work_dir / "second.backup"), "--passphrase-stdin",
                stdin="a long enough passphrase\n")
    assert again.returncode == 0, again.stderr
    assert run("audit", "verify").returncode == 0
    events = [json.loads(x)["event"] for x in (fresh_home / "audit.jsonl").read_text().splitlines()]
    assert events == ["key.restored", "key.exported", "key.backup_created"]
    user_chosen = run("key", "restore", str(work_dir / "second.backup"), "--passphrase-stdin",
                      stdin="a long enough passphrase\n")
    assert user_chosen.returncode == 0, user_chosen.stderr


def test_wrong_passphrase_and_damaged_file_change_nothing(keys: Keys, work_dir: Path, fresh_home: Path) -> None:
    before = snapshot(fresh_home)
    code = keys.code
    wrong = code[:-1] + ("A" if code[-1] != "A" else "B")
    refused = run("key", "restore", str(keys.backup), "--passphrase-stdin", stdin=wrong + "\n")
    assert one_line_error(refused) and "wrong recovery passphrase" in refused.stderr
    assert_unchanged(fresh_home, before)

    damaged = work_dir / "damaged.backup"
    data = bytearray(keys.backup.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 8] = b"AAAAAAAA" if data[middle : middle + 8] != b"AAAAAAAA" else b"BBBBBBBB"
    damaged.write_bytes(bytes(data))
    ident = keys.home_a.parent / "ident.asc"
    for bad in (damaged, work_dir / "missing.backup", ident):
        result = run("key", "restore", str(bad), "--passphrase-stdin", stdin=code + "\n")
        assert one_line_error(result) and str(bad) in result.stderr, result.stderr
        assert_unchanged(fresh_home, before)

    no_terminal = run("key", "restore", str(keys.backup))
    assert one_line_error(no_terminal) and "--passphrase-stdin" in no_terminal.stderr


def test_restore_refuses_to_replace_another_practice_key(keys: Keys, fresh_home: Path) -> None:
    copy_home(keys.home_b, fresh_home)  # fresh_home now holds practice key B
    before = snapshot(fresh_home)
    result = run("key", "restore", str(keys.backup), "--passphrase-stdin", stdin=keys.code + "\n")
    assert one_line_error(result) and "another practice key" in result.stderr
    assert_unchanged(fresh_home, before)


def test_backup_refusals(keys: Keys, work_dir: Path, fresh_home: Path) -> None:
    not_set_up = run("key", "backup", str(work_dir / "x.backup"))
    assert one_line_error(not_set_up) and "setup" in not_set_up.stderr
    copy_home(keys.home_a, fresh_home)
    short = run("key", "backup", str(work_dir / "x.backup"), "--passphrase-stdin", stdin="short\n")
    assert one_line_error(short) and "at least" in short.stderr
    unwritable = run("key", "backup", str(work_dir / "no" / "such" / "dir.backup"))
    assert one_line_error(unwritable)
    assert not (work_dir / "x.backup").exists()
