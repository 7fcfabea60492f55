"""Secrets only in an OS keyring: a plaintext backend chosen by PYTHON_KEYRING_BACKEND or a
keyringrc.cfg is refused with a clear message, and a chain that merely contains one (keyring
builds it as soon as keyrings.alt is installed, as it is in the test environment) stores
nothing in it. The attacks use keyrings.alt itself, installed as a test dependency."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from practice_client.core.errors import SecretError
from practice_client.core.secrets import Secrets, backend_name, os_keyring
from tests.conftest import require

SECRET = "very-secret-token-7f3a9c"  # noqa: S105


def plaintext_files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file() and SECRET.encode() in p.read_bytes()]


def store_in_fresh_process(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """A fresh process stores SECRET through the client's Secrets, with ``env`` set."""
    script = ("from practice_client.core.secrets import Secrets\n"
              f"Secrets('attack').set('platform-token', {SECRET!r})\n")
    full = dict(os.environ, XDG_DATA_HOME=str(tmp_path / "data"), XDG_CONFIG_HOME=str(tmp_path / "config"),
                HOME=str(tmp_path), **env)
    return subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=full, timeout=60)


@pytest.mark.parametrize("backend", ["keyrings.alt.file.PlaintextKeyring", "keyring.backends.null.Keyring",
                                     "keyring.backends.fail.Keyring"])
def test_a_backend_from_the_environment_that_does_not_protect_secrets_is_refused(
    tmp_path: Path, backend: str
) -> None:
    result = store_in_fresh_process(tmp_path, PYTHON_KEYRING_BACKEND=backend)
    assert result.returncode != 0
    last = result.stderr.strip().splitlines()[-1]
    assert "SecretError" in last and ("does not protect secrets" in last or "no OS keyring" in last), last
    assert plaintext_files(tmp_path) == []


def test_a_plaintext_backend_from_keyringrc_is_refused(tmp_path: Path) -> None:
    rc = tmp_path / "config" / "python_keyring" / "keyringrc.cfg"
    rc.parent.mkdir(parents=True)
    rc.write_text("[backend]\ndefault-keyring=keyrings.alt.file.PlaintextKeyring\n")
    result = store_in_fresh_process(tmp_path)
    assert result.returncode != 0 and "does not protect secrets" in result.stderr
    assert "keyrings.alt.file.PlaintextKeyring" in result.stderr
    assert plaintext_files(tmp_path) == [] and not (tmp_path / "data" / "python_keyring").exists()


def test_with_keyrings_alt_installed_secrets_still_go_to_the_os_keyring(keyring_backend: str) -> None:
    import keyring

    chosen = keyring.get_keyring()
    names = [backend_name(b) for b in getattr(chosen, "backends", [chosen])]
    require(any(n.startswith("keyrings.alt.") for n in names), "keyrings.alt in the test environment")
    assert backend_name(os_keyring()) == "keyring.backends.SecretService.Keyring"
    secrets = Secrets("chain-test")
    secrets.set("probe", SECRET)
    try:
        data_home = Path(os.environ.get("XDG_DATA_HOME", Path.home() / ".local" / "share"))
        assert plaintext_files(data_home) == []
        found = subprocess.run(["secret-tool", "lookup", "service", "practice-client/chain-test",
                                "username", "probe"], capture_output=True, text=True, timeout=30)
        assert found.stdout == SECRET  # in the Secret Service itself
    finally:
        secrets.delete("probe")


def test_the_refusal_names_the_backend() -> None:
    import keyring
    from keyrings.alt.file import PlaintextKeyring

    before = keyring.get_keyring()
    keyring.set_keyring(PlaintextKeyring())
    try:
        with pytest.raises(SecretError, match="PlaintextKeyring"):
            Secrets("x").get("platform-token")
    finally:
        keyring.set_keyring(before)
