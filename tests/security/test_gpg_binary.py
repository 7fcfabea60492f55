"""gpg is never found through PATH: a gpg planted in a folder on PATH (Homebrew's, in the
LaunchAgent's old PATH) would see the practice key's passphrase and every document. The
client runs the administrator's gpg_binary or a root-owned gpg from the OS's places, and
checks its version at start with a message that says what to install."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
import tomli_w

from practice_client.core.errors import CryptoError
from practice_client.crypto import gpg_binary
from tests.conftest import require
from tests.support.cli import run_cli

REAL_GPG = shutil.which("gpg", path="/usr/bin:/bin") or "/usr/bin/gpg"


def script(path: Path, body: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755)
    return path


@pytest.fixture
def fresh(monkeypatch: pytest.MonkeyPatch) -> None:
    """Nothing resolved yet in this process."""
    monkeypatch.setattr(gpg_binary, "_resolved", {})
    monkeypatch.setattr(gpg_binary, "_selected", None)


def test_a_gpg_planted_on_path_is_never_run(client_home: Path, ident_key: Path, work_dir: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    marker = work_dir / "planted-gpg-ran"
    planted = script(work_dir / "brew" / "bin" / "gpg", f'echo "$@" >> {marker}\nexec {REAL_GPG} "$@"\n')
    monkeypatch.setenv("PATH", f"{planted.parent}:{os.environ['PATH']}")
    result = run_cli("setup", "--server", "https://platform.test", "--practice-id", "praxis-1",
                     "--platform-domain", "platform.test", "--ident-key", str(ident_key), "--offline")
    assert result.returncode == 0, result.stderr
    assert (client_home / "gnupg").is_dir()
    assert not marker.exists(), marker.read_text()


def test_a_too_old_gpg_is_refused_at_start_with_a_clear_message(
    client_home: Path, ident_key: Path, work_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    old = script(work_dir / "old" / "gpg", 'echo "gpg (GnuPG) 2.0.22"\necho "libgcrypt 1.5.3"\n')
    policy = work_dir / "policy.toml"
    policy.write_text(tomli_w.dumps({"GPG_BINARY": str(old), "LOCK_SETTINGS": "1"}))
    monkeypatch.setenv("PRACTICE_CLIENT_POLICY", str(policy))
    result = run_cli("setup", "--server", "https://platform.test", "--practice-id", "praxis-1",
                     "--platform-domain", "platform.test", "--ident-key", str(ident_key), "--offline")
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1, result.stderr
    assert f"{old}: GnuPG 2.0.22 ist zu alt" in result.stderr and "needs 2.2.7 or later" in result.stderr


def test_the_configured_gpg_must_be_an_absolute_executable_gnupg(fresh: None, work_dir: Path) -> None:
    with pytest.raises(CryptoError, match="not an absolute path"):
        gpg_binary.resolve_gpg("gpg")
    with pytest.raises(CryptoError, match="not an executable file"):
        gpg_binary.resolve_gpg(str(work_dir / "missing"))
    impostor = script(work_dir / "impostor", 'echo "hello"\n')
    with pytest.raises(CryptoError, match="not GnuPG"):
        gpg_binary.resolve_gpg(str(impostor))
    assert gpg_binary.resolve_gpg(REAL_GPG).version >= gpg_binary.MIN_VERSION


def test_the_os_places_skip_a_gpg_others_than_root_can_replace(
    fresh: None, work_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    require(os.geteuid() == 0, "root (to own a file as another user)")
    user_owned = script(work_dir / "opt-homebrew" / "bin" / "gpg", f'exec {REAL_GPG} "$@"\n')
    os.chown(user_owned.parent, 1000, 1000)
    writable = script(work_dir / "shared" / "gpg", f'exec {REAL_GPG} "$@"\n')
    writable.chmod(0o777)
    places = (str(user_owned), str(writable), str(work_dir / "absent"), REAL_GPG)
    monkeypatch.setitem(gpg_binary.POSIX_PLACES, "other", places)
    assert gpg_binary.not_root_only(user_owned) == f"{user_owned.parent} belongs to uid 1000"
    assert gpg_binary.not_root_only(writable) == f"{writable} is writable by others than root"
    assert gpg_binary.resolve_gpg().path == REAL_GPG
    monkeypatch.setitem(gpg_binary.POSIX_PLACES, "other", places[:3])
    monkeypatch.setattr(gpg_binary, "_resolved", {})
    with pytest.raises(CryptoError, match="no usable GnuPG found") as err:
        gpg_binary.resolve_gpg()
    assert "belongs to uid 1000" in str(err.value) and "\n" not in str(err.value)
