"""The OS policy always wins: a user who points $PRACTICE_CLIENT_POLICY (or the stand-in
root) at an empty file must not unlock what the MSI / pkg / /etc locked.

The machine's own policy place is relocated (``policy.SYSTEM_ROOT``) to a folder of the
test: the same code path that reads /etc/practice-client/policy.toml on a practice PC.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import tomli_w

from practice_client.core import policy
from practice_client.core.config import load_config, save_settings
from practice_client.core.errors import PolicyLocked
from tests.support.cli import run_cli

ADMIN = {"SERVER_URL": "https://admin.test", "SPKI_PINS": "A" * 43 + "=", "LOCK_SETTINGS": "1"}


def write_os_policy(root: Path, values: dict[str, str]) -> Path:
    path = root / policy.LINUX_POLICY_FILE
    path.parent.mkdir(parents=True)
    path.write_text(tomli_w.dumps(values))
    return path


@pytest.fixture
def machine_policy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The machine has an admin policy (locked server URL and pin) in its OS place."""
    root = tmp_path / "machine"
    write_os_policy(root, ADMIN)
    monkeypatch.setattr(policy, "SYSTEM_ROOT", root)
    return root


def test_an_empty_policy_file_in_the_environment_unlocks_nothing(
    machine_policy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    empty = tmp_path / "empty.toml"
    empty.write_text("")
    (tmp_path / "empty-root").mkdir()
    monkeypatch.setenv(policy.POLICY_ENV, str(empty))  # the attack
    monkeypatch.setenv(policy.POLICY_ROOT_ENV, str(tmp_path / "empty-root"))  # and its variant
    found = policy.read_policy()
    assert found.source == str(machine_policy / policy.LINUX_POLICY_FILE)
    assert found.is_locked("server_url") and found.is_locked("spki_pins")

    config = tmp_path / "config.toml"
    config.write_text('server_url = "https://attacker.test"\nspki_pin = "%s"\n' % ("B" * 43 + "="))
    effective = load_config(config)
    assert effective.server_url == "https://admin.test"
    assert effective.pins() == ("A" * 43 + "=",)  # the user's own pin adds nothing to a locked set
    with pytest.raises(PolicyLocked):
        save_settings(config, {"server_url": "https://attacker.test"})


def test_the_environment_provides_a_policy_only_where_the_machine_has_none(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(policy, "SYSTEM_ROOT", tmp_path / "bare-machine")
    env_file = tmp_path / "env.toml"
    env_file.write_text(tomli_w.dumps({"PRACTICE_ID": "praxis-env"}))
    monkeypatch.setenv(policy.POLICY_ENV, str(env_file))
    monkeypatch.delenv(policy.POLICY_ROOT_ENV, raising=False)
    assert policy.read_policy().values == {"practice_id": "praxis-env"}
    stand_in = tmp_path / "stand-in"
    write_os_policy(stand_in, {"PRACTICE_ID": "praxis-root"})
    monkeypatch.setenv(policy.POLICY_ROOT_ENV, str(stand_in))  # the stand-in comes before the file
    assert policy.read_policy().values == {"practice_id": "praxis-root"}


def test_the_command_line_keeps_the_locked_value_whatever_the_user_sets(
    client_home: Path, ident_key: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In a fresh process: the OS place (here the stand-in of a machine without one) holds a
    locked policy; the user's empty $PRACTICE_CLIENT_POLICY changes nothing."""
    stand_in = tmp_path / "os"
    write_os_policy(stand_in, ADMIN)
    empty = tmp_path / "empty.toml"
    empty.write_text("")
    monkeypatch.setenv(policy.POLICY_ROOT_ENV, str(stand_in))
    monkeypatch.setenv(policy.POLICY_ENV, str(empty))
    result = run_cli(
        "setup", "--server", "https://attacker.test", "--practice-id", "praxis-user",
        "--platform-domain", "platform.test", "--ident-key", str(ident_key), "--offline",
    )
    assert result.returncode == 0, result.stderr
    assert "attacker.test" not in (client_home / "config.toml").read_text()
    assert load_config(client_home / "config.toml").server_url == "https://admin.test"
