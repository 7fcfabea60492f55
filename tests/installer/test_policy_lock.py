"""Admin policy wins over the user: a locked setting cannot be changed through the CLI, and
the effective config shows the administrator's value whatever the user's file says.

The policy is spelled exactly as the MSI writes it to the registry (SERVER_URL, ...), as a
TOML file through $PRACTICE_CLIENT_POLICY (the Linux form of the same interface).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import tomli_w

from practice_client.context import Context
from practice_client.core.config import load_config, read_user_config
from practice_client.core.errors import PolicyLocked
from tests.support.cli import run_cli


@pytest.fixture
def locked_policy(work_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = work_dir / "policy.toml"
    path.write_text(tomli_w.dumps({
        "SERVER_URL": "https://policy.test", "PRACTICE_ID": "praxis-admin", "LOCK_SETTINGS": "1",
    }))
    monkeypatch.setenv("PRACTICE_CLIENT_POLICY", str(path))
    return path


def test_setup_cannot_change_a_locked_server_url(client_home: Path, ident_key: Path, locked_policy: Path) -> None:
    config_file = client_home / "config.toml"
    config_file.write_text('server_url = "https://user-edit.test"\n')  # the user's own earlier edit
    result = run_cli(
        "setup", "--server", "https://attacker.test", "--practice-id", "praxis-user",
        "--platform-domain", "platform.test", "--ident-key", str(ident_key), "--offline",
    )
    assert result.returncode == 0, result.stderr

    effective = load_config(config_file)
    assert effective.server_url == "https://policy.test"
    assert effective.practice_id == "praxis-admin"
    assert effective.platform_domain == "platform.test"  # not locked: the user's value
    assert effective.is_locked("server_url") and not effective.is_locked("platform_domain")
    stored = config_file.read_text()
    assert "attacker.test" not in stored and "praxis-user" not in stored

    # Changing it directly is refused with a one-line message, and nothing is written.
    before = config_file.read_bytes()
    ctx = Context()
    try:
        with pytest.raises(PolicyLocked, match="vom Administrator festgelegt"):
            ctx.update_config(server_url="https://attacker.test")
    finally:
        ctx.close()
    assert config_file.read_bytes() == before
    assert read_user_config(config_file).get("server_url") != "https://attacker.test"


def test_without_lock_the_policy_is_only_a_default(client_home: Path, ident_key: Path, work_dir: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    path = work_dir / "defaults.toml"
    path.write_text(tomli_w.dumps({"SERVER_URL": "https://policy.test", "LOCK_SETTINGS": "0"}))
    monkeypatch.setenv("PRACTICE_CLIENT_POLICY", str(path))
    assert load_config(client_home / "config.toml").server_url == "https://policy.test"
    result = run_cli(
        "setup", "--server", "https://own.test", "--practice-id", "praxis-1",
        "--platform-domain", "platform.test", "--ident-key", str(ident_key), "--offline",
    )
    assert result.returncode == 0, result.stderr
    assert load_config(client_home / "config.toml").server_url == "https://own.test"


def test_a_broken_policy_file_is_a_one_line_error(client_home: Path, work_dir: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    path = work_dir / "broken.toml"
    path.write_text("SERVER_URL = \n")
    monkeypatch.setenv("PRACTICE_CLIENT_POLICY", str(path))
    result = run_cli("key", "export")
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and str(path) in result.stderr and "TOML" in result.stderr
