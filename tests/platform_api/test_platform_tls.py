"""Man in the middle: HTTPS only, verification always on, TLS >= 1.2, the SPKI pin
checked on the real connection. Each defence is tested with the attack."""

from __future__ import annotations

import contextlib
import logging
import shutil
import socket
import ssl
import subprocess
import threading
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

from practice_client.context import Context
from practice_client.core.errors import InputError, NetworkError, NotConfigured, SecretError
from practice_client.core.secrets import PLATFORM_TOKEN
from practice_client.platform.api import PlatformClient
from practice_client.platform.http import Profile
from practice_client.platform.tls import spki_sha256_pem, tls_context
from practice_client.testbed.platform import TestbedPlatform
from tests.conftest import require
from tests.support.platform import FAST_RETRY, fast_client, start_platform


@pytest.fixture(scope="module")
def other_platform() -> Iterator[TestbedPlatform]:
    """A second testbed: its own CA and server key - the attacker's certificate."""
    with start_platform() as platform:
        yield platform


def server_pin(platform: TestbedPlatform) -> str:
    """The standard SPKI pin, computed by openssl (a second implementation)."""
    require(shutil.which("openssl") is not None, "openssl")
    script = ("openssl x509 -pubkey -noout -in \"$1\" | openssl pkey -pubin -outform der "
              "| openssl dgst -sha256 -binary | base64")
    pin = subprocess.run(["sh", "-c", script, "pin", str(platform.data_dir / "server.pem")],
                         capture_output=True, text=True, check=True).stdout.strip()
    assert pin == platform.spki_pin == spki_sha256_pem((platform.data_dir / "server.pem").read_bytes())
    return pin


@pytest.mark.parametrize("url", ["http://127.0.0.1:8080", "HTTP://127.0.0.1", "ftp://x", "127.0.0.1:443"])
def test_plain_http_is_refused(url: str) -> None:
    with pytest.raises(NetworkError, match="https"):
        PlatformClient(url, "token-123456")


def test_a_server_signed_by_another_ca_is_refused(
    testbed_platform: TestbedPlatform, other_platform: TestbedPlatform
) -> None:
    (testbed_platform.data_dir / "inbox" / "a.eml").write_bytes(b"x")
    for ca_file in (other_platform.ca_file, None):  # the wrong CA, or only the system's CAs
        with (
            PlatformClient(testbed_platform.url, testbed_platform.token, ca_file=ca_file) as client,
            pytest.raises(NetworkError, match="not trusted") as err,
        ):
            client.inbox(None)
        assert "\n" not in str(err.value)
    assert testbed_platform.stats.calls("inbox") == 0  # refused before any request was sent


def test_the_hostname_must_match_the_certificate(testbed_platform: TestbedPlatform) -> None:
    ok = PlatformClient(f"https://localhost:{testbed_platform.port}", testbed_platform.token,
                        ca_file=testbed_platform.ca_file)
    with ok:
        assert ok.inbox(None) == ([], None)
    # "127.1" reaches the same server (inet_aton shorthand) but is a name the
    # certificate does not list: the server's certificate is valid, for another name.
    with (
        PlatformClient(f"https://127.1:{testbed_platform.port}", testbed_platform.token,
                       ca_file=testbed_platform.ca_file) as wrong,
        pytest.raises(NetworkError, match="not trusted"),
    ):
        wrong.inbox(None)
    assert testbed_platform.stats.calls("inbox") == 1


def test_spki_pin_mismatch_is_refused_and_the_right_pin_accepted(
    testbed_platform: TestbedPlatform, other_platform: TestbedPlatform
) -> None:
    ca_pin = spki_sha256_pem(testbed_platform.ca_file.read_bytes())  # pin of the CA, not the server
    for pin in (server_pin(other_platform), ca_pin):
        with fast_client(testbed_platform, spki_pin=pin) as client:
            with pytest.raises(NetworkError, match="SPKI pin"):
                client.inbox(None)
            with pytest.raises(NetworkError, match="SPKI pin"):
                client.register_practice_key("-----BEGIN PGP PUBLIC KEY BLOCK-----\n")
    assert testbed_platform.stats.calls("inbox") == 0
    assert not (testbed_platform.data_dir / "practice" / "key.asc").exists()
    good = server_pin(testbed_platform)
    for spelled in (good, f"sha256/{good}"):
        with fast_client(testbed_platform, spki_pin=spelled) as client:
            assert client.inbox(None) == ([], None)
            assert client.inbox(None) == ([], None)  # a reused connection as well


def test_a_malformed_pin_is_an_input_error(testbed_platform: TestbedPlatform) -> None:
    with pytest.raises(InputError, match="spki_pin"):
        fast_client(testbed_platform, spki_pin="not-base64!")


def test_a_ca_bundle_named_in_the_environment_adds_no_trust(
    testbed_platform: TestbedPlatform, other_platform: TestbedPlatform, monkeypatch: pytest.MonkeyPatch
) -> None:
    """requests would let REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE add an attacker's CA to every
    request; the client trusts only the configured CA (and the system's)."""
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        monkeypatch.setenv(name, str(other_platform.ca_file))
    (other_platform.data_dir / "inbox" / "a.eml").write_bytes(b"x")
    for ca_file in (None, testbed_platform.ca_file):
        with (
            PlatformClient(other_platform.url, other_platform.token, ca_file=ca_file) as client,
            pytest.raises(NetworkError, match="not trusted"),
        ):
            client.inbox(None)
    assert other_platform.stats.calls("inbox") == 0


class ConnectProxy:
    """A real HTTP CONNECT proxy on loopback (as in a practice network): it tunnels bytes
    and remembers where it was asked to connect; it cannot see inside TLS."""

    def __init__(self) -> None:
        self.targets: list[str] = []
        self._server = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._server.getsockname()[1]}"
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            threading.Thread(target=self._tunnel, args=(client,), daemon=True).start()

    def _tunnel(self, client: socket.socket) -> None:
        head = b""
        while b"\r\n\r\n" not in head:
            head += client.recv(4096)
        method, target = head.split(b" ")[:2]
        assert method == b"CONNECT"
        self.targets.append(target.decode())
        host, port = target.decode().rsplit(":", 1)
        upstream = socket.create_connection((host, int(port)))
        client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")

        def pump(src: socket.socket, dst: socket.socket) -> None:
            with contextlib.suppress(OSError):
                while data := src.recv(65536):
                    dst.sendall(data)
            with contextlib.suppress(OSError):
                dst.shutdown(socket.SHUT_WR)

        threading.Thread(target=pump, args=(upstream, client), daemon=True).start()
        pump(client, upstream)

    def close(self) -> None:
        self._server.close()


def test_a_proxy_from_the_environment_is_used_and_tls_still_checked_end_to_end(
    testbed_platform: TestbedPlatform, other_platform: TestbedPlatform, monkeypatch: pytest.MonkeyPatch
) -> None:
    proxy = ConnectProxy()
    try:
        for name in ("NO_PROXY", "no_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("HTTPS_PROXY", proxy.url)
        with fast_client(testbed_platform, spki_pin=server_pin(testbed_platform)) as client:
            assert client.inbox(None) == ([], None)
        assert proxy.targets == [f"127.0.0.1:{testbed_platform.port}"]
        with (  # through the tunnel, the pin is still the server's own
            fast_client(testbed_platform, spki_pin=server_pin(other_platform)) as wrong,
            pytest.raises(NetworkError, match="SPKI pin"),
        ):
            wrong.inbox(None)
        assert testbed_platform.stats.calls("inbox") == 1
        monkeypatch.setenv("NO_PROXY", "127.0.0.1")
        with fast_client(testbed_platform) as direct:
            assert direct.inbox(None) == ([], None)
        assert len(proxy.targets) == 2  # the pinned-wrong attempt; the NO_PROXY one went direct
    finally:
        proxy.close()


def test_client_context_requires_tls12_and_verification() -> None:
    context = tls_context(None)
    assert context.minimum_version >= ssl.TLSVersion.TLSv1_2
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname


def test_a_bad_ca_file_is_an_input_error_naming_it(tmp_path: Path) -> None:
    bad = tmp_path / "ca.pem"
    bad.write_text("-----BEGIN CERTIFICATE-----\nnope\n-----END CERTIFICATE-----\n")
    with pytest.raises(InputError, match="ca.pem"):
        tls_context(bad)


@pytest.mark.parametrize("version", ["TLSv1", "TLSv1_1"])
def test_the_server_refuses_old_tls(testbed_platform: TestbedPlatform, version: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        old = getattr(ssl.TLSVersion, version)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.load_verify_locations(testbed_platform.ca_file)
        context.set_ciphers("DEFAULT:@SECLEVEL=0")  # our side would speak it
        context.minimum_version = ssl.TLSVersion.TLSv1
        context.maximum_version = old
    with (
        socket.create_connection(("127.0.0.1", testbed_platform.port), timeout=10) as sock,
        pytest.raises((ssl.SSLError, ConnectionError)),
    ):
        context.wrap_socket(sock, server_hostname="127.0.0.1")
    context.maximum_version = ssl.TLSVersion.TLSv1_2  # control: the same client with 1.2 gets in
    with (
        socket.create_connection(("127.0.0.1", testbed_platform.port), timeout=10) as sock,
        context.wrap_socket(sock, server_hostname="127.0.0.1") as tls,
    ):
        assert tls.version() == "TLSv1.2"


def test_no_redirect_is_followed(testbed_platform: TestbedPlatform, client: PlatformClient) -> None:
    """A redirect could downgrade to http:// or lead elsewhere: the client never follows."""
    testbed_platform.faults.fail_next("inbox", status=404)  # a non-2xx answer is an error, not a hop
    with pytest.raises(NetworkError, match="404"):
        client.inbox(None)


def test_the_token_never_reaches_the_log(
    testbed_platform: TestbedPlatform, client: PlatformClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    testbed_platform.faults.fail_next("inbox", count=2, status=503)
    client.inbox(None)
    client.send_decision("req-00000001", "accepted", "")
    assert "retry" in caplog.text
    assert testbed_platform.token not in caplog.text


def test_ctx_platform_uses_the_configured_url_ca_pin_and_keyring_token(
    client_home: Path, testbed_platform: TestbedPlatform, other_platform: TestbedPlatform
) -> None:
    ctx = Context()
    try:
        with pytest.raises(NotConfigured):
            ctx.platform()
        ctx.update_config(server_url=testbed_platform.url, ca_file=str(testbed_platform.ca_file),
                          spki_pin=server_pin(other_platform))
        with pytest.raises(SecretError):  # no token in the keyring yet
            ctx.platform()
        ctx.secrets.set(PLATFORM_TOKEN, testbed_platform.token)
        with (
            ctx.platform(Profile(retry=FAST_RETRY)) as pinned_wrong,
            pytest.raises(NetworkError, match="SPKI pin"),
        ):
            pinned_wrong.inbox(None)
        ctx.update_config(spki_pin=server_pin(testbed_platform))
        with ctx.platform() as client:
            assert client.inbox(None) == ([], None)
    finally:
        ctx.secrets.delete(PLATFORM_TOKEN)
        ctx.close()


def test_several_pins_any_matches_so_the_platform_can_rotate_its_key(
    testbed_platform: TestbedPlatform, other_platform: TestbedPlatform
) -> None:
    current, backup = server_pin(other_platform), server_pin(testbed_platform)
    with fast_client(testbed_platform, spki_pins=[current, f"sha256/{backup}"]) as rotated:
        assert rotated.inbox(None) == ([], None)  # the platform moved to its backup key
    wrong = spki_sha256_pem(other_platform.ca_file.read_bytes())
    with (
        fast_client(testbed_platform, spki_pins=[current, wrong]) as neither,
        pytest.raises(NetworkError, match="SPKI pin"),
    ):
        neither.inbox(None)
    assert testbed_platform.stats.calls("inbox") == 1
    with pytest.raises(InputError, match="spki_pin"):
        fast_client(testbed_platform, spki_pins=[backup, "not-base64!"])


def test_pins_from_the_config_the_old_single_pin_still_counts(
    client_home: Path, testbed_platform: TestbedPlatform, other_platform: TestbedPlatform
) -> None:
    ctx = Context()
    try:
        ctx.secrets.set(PLATFORM_TOKEN, testbed_platform.token)
        wrong_pins = f"{server_pin(other_platform)}, {spki_sha256_pem(other_platform.ca_file.read_bytes())}"
        ctx.update_config(server_url=testbed_platform.url, ca_file=str(testbed_platform.ca_file),
                          spki_pins=wrong_pins)
        with ctx.platform(Profile(retry=FAST_RETRY)) as wrong, pytest.raises(NetworkError, match="SPKI pin"):
            wrong.inbox(None)
        ctx.update_config(spki_pin=server_pin(testbed_platform))  # written by an older version
        assert len(ctx.config.pins()) == 3
        with ctx.platform(Profile(retry=FAST_RETRY)) as client:
            assert client.inbox(None) == ([], None)
    finally:
        ctx.secrets.delete(PLATFORM_TOKEN)
        ctx.close()
