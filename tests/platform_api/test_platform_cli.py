"""The command line against the platform: ``testbed platform`` as a real process, and
``setup`` without ``--offline`` registering the practice key over HTTPS."""

from __future__ import annotations

import os
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from practice_client.crypto.gpg import Gpg, inspect_keys
from practice_client.platform.api import PlatformClient
from practice_client.testbed.platform import TestbedPlatform
from tests.conftest import kill_agents, short_tmpdir
from tests.support.platform import start_platform


def cli(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "practice_client", *args], input=stdin,
                          capture_output=True, text=True, timeout=120, env=os.environ.copy())


def first_line(proc: subprocess.Popen[str], deadline_s: float = 30.0) -> str:
    """The first line the process prints, waiting on the pipe (no sleeps), with a deadline."""
    assert proc.stdout is not None
    with selectors.DefaultSelector() as selector:
        selector.register(proc.stdout, selectors.EVENT_READ)
        end = time.monotonic() + deadline_s
        while time.monotonic() < end:
            if selector.select(timeout=end - time.monotonic()):
                return proc.stdout.readline()
    raise AssertionError("the platform printed nothing in time")


def test_testbed_platform_serves_until_sigterm(work_dir: Path) -> None:
    data = work_dir / "platform"
    proc = subprocess.Popen(
        [sys.executable, "-m", "practice_client", "testbed", "platform", "--data", str(data)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=os.environ.copy(),
    )
    try:
        line = first_line(proc)
        url = line.split()[-1]
        assert url.startswith("https://127.0.0.1:"), line
        token = (data / "token").read_text().strip()
        assert (data / "token").stat().st_mode & 0o077 == 0
        assert (data / "server-key.pem").stat().st_mode & 0o077 == 0
        (data / "inbox" / "m1.eml").write_bytes(b"Subject: test\r\n\r\nbody")
        with PlatformClient(url, token, ca_file=data / "ca.pem") as client:
            messages, _ = client.inbox(None)
        assert messages == [b"Subject: test\r\n\r\nbody"]
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    assert "stopped" in out and "Traceback" not in err
    port = int(url.rsplit(":", 1)[1])
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=5).close()


def test_testbed_platform_refuses_a_busy_port_in_one_line(
    testbed_platform: TestbedPlatform, work_dir: Path
) -> None:
    result = cli("testbed", "platform", "--data", str(work_dir / "p2"), "--port", str(testbed_platform.port))
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and str(testbed_platform.port) in result.stderr


def test_testbed_platform_refuses_a_file_as_data_folder(work_dir: Path) -> None:
    not_a_dir = work_dir / "file"
    not_a_dir.write_text("x")
    result = cli("testbed", "platform", "--data", str(not_a_dir))
    assert result.returncode == 1 and str(not_a_dir) in result.stderr
    assert result.stderr.count("\n") == 1


@pytest.fixture(scope="module")
def ident_key() -> Iterator[Path]:
    """The platform's identity key (public part), made once for the module."""
    root = short_tmpdir("pci")
    gpg = Gpg(root / "ident")
    fpr = gpg.generate_key("Plattform Identitaet", "ident@platform.test", "x" * 12, "ed25519")
    path = root / "ident.asc"
    path.write_text(gpg.export_public(fpr))
    yield path
    kill_agents(root)
    shutil.rmtree(root, ignore_errors=True)


def setup_online(
    platform: TestbedPlatform, ident_key: Path, token: str, ca_file: Path
) -> subprocess.CompletedProcess[str]:
    return cli("setup", "--server", platform.url, "--practice-id", "praxis-1",
               "--platform-domain", "platform.test", "--ident-key", str(ident_key),
               "--ca-file", str(ca_file), "--token-stdin", stdin=token + "\n")


def test_setup_online_refuses_an_impostor_and_a_wrong_token_then_registers_the_key(
    client_home: Path, ident_key: Path, testbed_platform: TestbedPlatform
) -> None:
    """An admin's setup against the testbed, in the order mistakes happen. Re-running
    setup keeps the key, so one home serves all three steps."""
    # 1. a server with another CA answers (man in the middle): refused, nothing sent
    with start_platform() as impostor:
        result = cli("setup", "--server", impostor.url, "--practice-id", "praxis-1",
                     "--platform-domain", "platform.test", "--ident-key", str(ident_key),
                     "--ca-file", str(testbed_platform.ca_file), "--token-stdin",
                     stdin=testbed_platform.token + "\n")
        assert result.returncode == 1
        assert "not trusted" in result.stderr and result.stderr.count("\n") == 1
        assert testbed_platform.token not in result.stderr + result.stdout
        assert impostor.stats.calls("practice_key") == 0
        assert not (impostor.data_dir / "practice" / "key.asc").exists()
    # 2. the right server, a wrong token: one line, no token echoed, nothing stored
    result = setup_online(testbed_platform, ident_key, "wrong-token-0000", testbed_platform.ca_file)
    assert result.returncode == 1
    assert "401" in result.stderr and result.stderr.count("\n") == 1
    assert "wrong-token-0000" not in result.stderr
    assert not (testbed_platform.data_dir / "practice" / "key.asc").exists()
    # 3. all correct: the practice key is registered, exactly what `key export` prints
    result = setup_online(testbed_platform, ident_key, testbed_platform.token, testbed_platform.ca_file)
    assert result.returncode == 0, result.stderr
    assert "registered" in result.stdout
    exported = cli("key", "export")
    assert exported.returncode == 0, exported.stderr
    registered = (testbed_platform.data_dir / "practice" / "key.asc").read_text()
    assert registered == exported.stdout
    assert [k.fingerprint for k in inspect_keys(registered)] == [
        k.fingerprint for k in inspect_keys(exported.stdout)
    ]
    assert "key.registered" in (client_home / "audit.jsonl").read_text()
