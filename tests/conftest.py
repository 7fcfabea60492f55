"""Shared fixtures. Real components only: real gpg, a real keyring backend, real
servers on loopback. A component that is missing skips the test locally but
fails it when CI=true (see :func:`require`)."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def require(condition: bool, component: str) -> None:
    """Skip locally when a real component is missing; under CI=true that is a failure."""
    if condition:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"required component missing in CI: {component}")
    pytest.skip(f"component missing: {component} (under CI=true this fails instead)")


def v1_sealed(key: bytes, column: str, value: str | bytes) -> bytes:
    """A field as the first releases sealed it: AES-256-GCM with only the column as
    associated data (what migration 3 re-seals, bound to its row)."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    raw = value.encode() if isinstance(value, str) else value
    nonce = os.urandom(12)
    return b"\x01" + nonce + AESGCM(key).encrypt(nonce, raw, column.encode())


def short_tmpdir(prefix: str = "pct") -> Path:
    """gpg-agent sockets need short paths: never pytest's deep tmp_path for a GnuPG home."""
    return Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))


def kill_agents(root: Path) -> None:
    """Stop every gpg-agent whose home lies below ``root``."""
    for sock in root.rglob("S.gpg-agent"):
        subprocess.run(
            ["gpgconf", "--homedir", str(sock.parent), "--kill", "gpg-agent"],
            check=False, capture_output=True,
        )


@pytest.fixture(scope="session", autouse=True)
def _no_policy_leaks() -> None:
    """An empty policy where the machine has none (a machine's own policy always wins:
    practice_client.core.policy; tests of it relocate the OS place)."""
    os.environ["PRACTICE_CLIENT_POLICY"] = str(Path(__file__).parent / "data" / "empty-policy.toml")


@pytest.fixture
def keyring_backend() -> str:
    import keyring

    backend = keyring.get_keyring()
    name = f"{type(backend).__module__}.{type(backend).__name__}"
    require(
        "fail" not in name and "keyrings.alt" not in name,
        f"a real OS keyring backend (got {name}; run the tests through scripts/with-keyring)",
    )
    return name


@pytest.fixture
def client_home(keyring_backend: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh client home ($PRACTICE_CLIENT_HOME) with a short path; agents stopped after."""
    require(shutil.which("gpg") is not None, "gpg")
    root = short_tmpdir("pch")
    monkeypatch.setenv("PRACTICE_CLIENT_HOME", str(root))
    yield root
    kill_agents(root)
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def work_dir() -> Iterator[Path]:
    """A short scratch folder (may hold GnuPG homes); agents stopped after."""
    root = short_tmpdir("pcw")
    yield root
    kill_agents(root)
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def ident_key(work_dir: Path) -> Path:
    """A platform identity-verification public key (armored file), as ``setup --ident-key`` takes."""
    from practice_client.crypto.gpg import Gpg

    gpg = Gpg(work_dir / "ident")
    fpr = gpg.generate_key("Plattform Identitaet", "ident@platform.test", "x" * 12, "ed25519")
    path = work_dir / "ident.asc"
    path.write_text(gpg.export_public(fpr))
    return path
