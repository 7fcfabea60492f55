"""Config and admin policy: atomic writes, locked keys win, bad files give one line."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from practice_client.core.config import load_config, save_settings
from practice_client.core.errors import InputError, PolicyLocked
from practice_client.core.policy import Policy, policy_from_mapping, read_macos_managed


def test_locked_policy_value_wins_over_user_file(tmp_path: Path) -> None:
    cfg_path = tmp_path / "config.toml"
    cfg_path.write_text('server_url = "https://user.example"\nexport_dir = "/user"\n')
    policy = policy_from_mapping(
        {"SERVER_URL": "https://admin.example", "EXPORT_DIR": "/admin", "LOCK_SETTINGS": "1"}, "policy"
    )
    cfg = load_config(cfg_path, policy)
    assert cfg.server_url == "https://admin.example" and cfg.export_dir == "/admin"
    assert cfg.is_locked("server_url")
    with pytest.raises(PolicyLocked, match="vom Administrator festgelegt"):
        save_settings(cfg_path, {"server_url": "https://other.example"}, policy)
    assert "user.example" in cfg_path.read_text()  # nothing changed


def test_unlocked_policy_is_only_a_default(tmp_path: Path) -> None:
    cfg_path = tmp_path / "config.toml"
    policy = policy_from_mapping({"server_url": "https://admin.example"}, "policy")
    assert load_config(cfg_path, policy).server_url == "https://admin.example"
    cfg = save_settings(cfg_path, {"server_url": "https://mine.example"}, policy)
    assert cfg.server_url == "https://mine.example" and not cfg.is_locked("server_url")


def test_individually_locked_keys(tmp_path: Path) -> None:
    policy = policy_from_mapping({"export_dir": "/pms", "locked": ["export_dir"]}, "policy")
    cfg = load_config(tmp_path / "c.toml", policy)
    assert cfg.is_locked("export_dir") and not cfg.is_locked("server_url")


@pytest.mark.parametrize(
    ("content", "problem"),
    [("server_url = [", "not valid TOML"), ("colour = 'red'", "unknown setting"),
     ("rescan_seconds = 'soon'", "wrong type")],
)
def test_bad_config_file_is_one_line_naming_the_file(tmp_path: Path, content: str, problem: str) -> None:
    cfg_path = tmp_path / "config.toml"
    cfg_path.write_text(content)
    with pytest.raises(InputError) as err:
        load_config(cfg_path, Policy())
    assert str(cfg_path) in str(err.value) and problem in str(err.value) and "\n" not in str(err.value)


def test_settings_are_written_atomically(tmp_path: Path) -> None:
    cfg_path = tmp_path / "config.toml"
    save_settings(cfg_path, {"practice_id": "p1"}, Policy())
    assert [p.name for p in tmp_path.iterdir()] == ["config.toml"]  # no temp files left
    assert oct(os.stat(cfg_path).st_mode & 0o777) == "0o600"
    with pytest.raises(InputError):
        save_settings(cfg_path, {"rescan_seconds": "soon"}, Policy())
    assert load_config(cfg_path, Policy()).practice_id == "p1"


def test_policy_file_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from practice_client.core.policy import read_policy

    policy_file = tmp_path / "policy.toml"
    policy_file.write_text('platform_domain = "platform.example"\nlock_settings = true\n')
    monkeypatch.setenv("PRACTICE_CLIENT_POLICY", str(policy_file))
    policy = read_policy()
    assert policy.values["platform_domain"] == "platform.example"
    assert policy.is_locked("platform_domain")


def test_macos_managed_preferences_reader(tmp_path: Path) -> None:
    import plistlib

    (tmp_path / "de.practiceclient.client.plist").write_bytes(
        plistlib.dumps({"SERVER_URL": "https://mdm.example", "LOCK_SETTINGS": True})
    )
    policy = read_macos_managed(tmp_path)
    assert policy is not None and policy.values["server_url"] == "https://mdm.example"
    assert policy.is_locked("server_url")


def test_number_only_matching_comes_from_the_policy_alone(tmp_path: Path) -> None:
    """One identifier for automatic matching is the administrator's decision, never a user's."""
    cfg_path = tmp_path / "config.toml"
    assert load_config(cfg_path, Policy()).number_only_matching is False  # two identifiers by default
    with pytest.raises(PolicyLocked, match="fixed by the administrator"):
        save_settings(cfg_path, {"number_only_matching": True}, Policy())
    assert not cfg_path.exists()  # nothing written
    cfg_path.write_text("number_only_matching = true\n")  # written by hand: refused, not applied
    with pytest.raises(InputError, match="only be set by the administrator's policy"):
        load_config(cfg_path, Policy())
    cfg_path.unlink()
    for raw in ({"NUMBER_ONLY_MATCHING": "1"}, {"number_only_matching": True, "locked": "number_only_matching"}):
        assert load_config(cfg_path, policy_from_mapping(raw, "policy")).number_only_matching is True
