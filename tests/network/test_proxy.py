"""Proxies as practice networks run them, against real ones on loopback: tinyproxy with
Basic authentication, squid with NTLM, a PAC file served over HTTP, and IMAP (dovecot)
through the same CONNECT tunnel. TLS runs end to end: the SPKI pin is still the server's."""

from __future__ import annotations

import http.server
import socket
import struct
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from practice_client.context import Context
from practice_client.core.errors import InputError, NetworkError
from practice_client.core.secrets import PLATFORM_TOKEN, PROXY_PASSWORD
from practice_client.platform.http import Profile
from practice_client.platform.proxy import (
    DIRECT,
    Proxy,
    ProxyConfig,
    ProxyResolver,
    parse_pac_answer,
    parse_proxy,
    parse_winhttp_settings,
)
from practice_client.testbed.platform import TestbedPlatform
from tests.conftest import short_tmpdir
from tests.network.proxies import PASSWORD, USER, RunningProxy, start_squid_ntlm, start_tinyproxy
from tests.support.platform import FAST_RETRY, fast_client, testbed_platform  # noqa: F401
from tests.support.waiting import poll


@pytest.fixture(scope="module")
def tinyproxy() -> Iterator[RunningProxy]:
    proxy = start_tinyproxy(short_tmpdir("pctp"))
    yield proxy
    proxy.stop()


@pytest.fixture(scope="module")
def squid() -> Iterator[RunningProxy]:
    proxy = start_squid_ntlm(short_tmpdir("pcsq"))
    yield proxy
    proxy.stop()


def via(proxy: RunningProxy, user: str = USER, password: str = PASSWORD) -> ProxyResolver:
    return ProxyResolver(ProxyConfig(mode=proxy.url, user=user, password=password), environ={})


def tunnelled_to(proxy: RunningProxy, port: int) -> int:
    """CONNECT requests to ``port`` the proxy logged (each authentication leg is one)."""
    return sum(f"127.0.0.1:{port}" in line for line in proxy.connects())


def logged(proxy: RunningProxy, text: str, seconds: float = 30) -> bool:
    """Squid logs a tunnel when it closes: poll its log with a deadline."""
    return bool(poll(lambda: any(text in line for line in proxy.connects()), seconds, interval=0.05))


def test_basic_auth_proxy_carries_the_tls_session_end_to_end(
    testbed_platform: TestbedPlatform, tinyproxy: RunningProxy  # noqa: F811
) -> None:
    before = tunnelled_to(tinyproxy, testbed_platform.port)
    with fast_client(testbed_platform, proxy=via(tinyproxy), spki_pins=[testbed_platform.spki_pin]) as client:
        assert client.inbox(None) == ([], None)
    assert tunnelled_to(tinyproxy, testbed_platform.port) > before
    other = "A" * 43 + "="
    with fast_client(testbed_platform, proxy=via(tinyproxy), spki_pins=[other]) as pinned, \
            pytest.raises(NetworkError, match="SPKI pin"):
        pinned.inbox(None)


@pytest.mark.parametrize("user, password, problem", [
    ("", "", "set proxy_user and its password"),
    (USER, "wrong-password", f"refused the credentials of proxy_user '{USER}'"),
])
def test_a_proxy_that_refuses_the_credentials_is_a_clear_error(
    testbed_platform: TestbedPlatform, tinyproxy: RunningProxy, user: str, password: str, problem: str  # noqa: F811
) -> None:
    with fast_client(testbed_platform, proxy=via(tinyproxy, user, password)) as client, \
            pytest.raises(NetworkError, match="authentication required") as err:
        client.inbox(None)
    assert problem in str(err.value) and "gave up" not in str(err.value)  # not retried in vain
    assert "\n" not in str(err.value) and (not password or password not in str(err.value))
    assert testbed_platform.stats.calls("inbox") == 0


def test_ntlm_proxy_authentication_runs_its_handshake_on_one_connection(
    testbed_platform: TestbedPlatform, squid: RunningProxy  # noqa: F811
) -> None:
    with fast_client(testbed_platform, proxy=via(squid, "PRAXIS\\empfang", "ntlm-pw")) as client:
        assert client.inbox(None) == ([], None)
    assert logged(squid, "TCP_TUNNEL/200"), squid.connects()  # the tunnel, after the NTLM handshake
    assert not any("TCP_TUNNEL/200" in line and line.endswith(" - HIER_DIRECT/127.0.0.1 -")
                   for line in squid.connects())  # logged with the authenticated account
    with fast_client(testbed_platform, proxy=via(squid, "", "")) as anonymous, \
            pytest.raises(NetworkError, match="authentication required \\(NTLM"):
        anonymous.inbox(None)


class PacServer:
    """A PAC file served over HTTP on loopback, as a WPAD/IT server serves it."""

    def __init__(self, script: str) -> None:
        body = script.encode()

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                self.send_response(200)
                self.send_header("Content-Type", "application/x-ns-proxy-autoconfig")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/proxy.pac"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_a_pac_file_routes_through_its_proxies_in_order(
    testbed_platform: TestbedPlatform, tinyproxy: RunningProxy  # noqa: F811
) -> None:
    with socket.socket() as dead:  # a port nobody listens on: the PAC's first proxy is down
        dead.bind(("127.0.0.1", 0))
        dead_port = dead.getsockname()[1]
    pac = PacServer(
        "function FindProxyForURL(url, host) {\n"
        f'  if (shExpMatch(url, "https://127.0.0.1:{testbed_platform.port}/*"))\n'
        f'    return "PROXY 127.0.0.1:{dead_port}; PROXY 127.0.0.1:{tinyproxy.port}; DIRECT";\n'
        '  return "DIRECT";\n}\n'
    )
    try:
        resolver = ProxyResolver(ProxyConfig(pac_url=pac.url, user=USER, password=PASSWORD), environ={})
        assert resolver.route("127.0.0.1", testbed_platform.port) == (
            Proxy("127.0.0.1", dead_port), Proxy("127.0.0.1", tinyproxy.port), None)
        assert resolver.route("elsewhere.test", 443) == DIRECT
        before = tunnelled_to(tinyproxy, testbed_platform.port)
        with fast_client(testbed_platform, proxy=resolver) as client:
            assert client.inbox(None) == ([], None)
        assert tunnelled_to(tinyproxy, testbed_platform.port) > before
    finally:
        pac.close()


def test_the_proxy_settings_come_from_the_config_and_the_keyring(
    client_home: Path, testbed_platform: TestbedPlatform, tinyproxy: RunningProxy  # noqa: F811
) -> None:
    ctx = Context()
    try:
        ctx.update_config(server_url=testbed_platform.url, ca_file=str(testbed_platform.ca_file),
                          proxy=tinyproxy.url, proxy_user=USER)
        ctx.secrets.set(PLATFORM_TOKEN, testbed_platform.token)
        ctx.secrets.set(PROXY_PASSWORD, PASSWORD)
        before = tunnelled_to(tinyproxy, testbed_platform.port)
        with ctx.platform(Profile(retry=FAST_RETRY)) as client:
            assert client.inbox(None) == ([], None)
        assert tunnelled_to(tinyproxy, testbed_platform.port) > before
        ctx.update_config(proxy="http://user:secret@proxy.test:3128")
        with pytest.raises(InputError, match="no credentials in the proxy URL"):
            ctx.platform()
    finally:
        ctx.secrets.delete(PLATFORM_TOKEN)
        ctx.secrets.delete(PROXY_PASSWORD)
        ctx.close()


def test_imap_reaches_a_mail_server_behind_the_proxy(client_home: Path, tinyproxy: RunningProxy) -> None:
    """The product's own IMAP source, set up like any practice's: the proxy and its user
    from the config, both passwords from the keyring, the mail server's CA as imap_ca_file."""
    from practice_client.core.secrets import IMAP_PASSWORD as IMAP_SECRET
    from practice_client.intake.inbox import Inbox
    from practice_client.service.sources import imap_source
    from tests.intake.dovecot import PASSWORD as IMAP_PASSWORD
    from tests.intake.dovecot import USER as IMAP_USER
    from tests.intake.dovecot import Dovecot

    dovecot = Dovecot.start(short_tmpdir("pcd"))
    ctx = Context()
    try:
        ctx.update_config(imap_host="localhost", imap_port=dovecot.port, imap_user=IMAP_USER,
                          imap_ca_file=str(dovecot.ca_file), proxy=tinyproxy.url, proxy_user=USER)
        ctx.secrets.set(IMAP_SECRET, IMAP_PASSWORD)
        ctx.secrets.set(PROXY_PASSWORD, PASSWORD)
        assert imap_source(ctx, Inbox(ctx)).poll_once() == 0  # an empty INBOX, reached
        assert tunnelled_to(tinyproxy, dovecot.port) == 0  # logged by name: localhost
        assert any(f"localhost:{dovecot.port}" in line for line in tinyproxy.connects())
    finally:
        ctx.secrets.delete(IMAP_SECRET)
        ctx.secrets.delete(PROXY_PASSWORD)
        ctx.close()
        dovecot.stop()


def test_proxy_values_and_pac_answers_parse_as_browsers_read_them() -> None:
    assert parse_proxy("proxy.praxis.local:3128", "x") == Proxy("proxy.praxis.local", 3128)
    assert parse_proxy("http://10.0.0.1", "x") == Proxy("10.0.0.1", 8080)
    for bad in ("socks5://p:1080", "https://p:443", "http://u:pw@p:3128"):
        with pytest.raises(InputError):
            parse_proxy(bad, "x")
    assert parse_pac_answer("PROXY a:1; SOCKS s:1080;DIRECT") == (Proxy("a", 1), None)
    assert parse_pac_answer("") == ()


def test_the_windows_winhttp_proxy_blob_is_read() -> None:
    """What `netsh winhttp set proxy p:8080 "<local>;*.praxis.local"` stores in the registry."""
    proxy, bypass = b"p:8080", b"<local>;*.praxis.local"
    blob = struct.pack("<4I", 0x28, 5, 3, len(proxy)) + proxy + struct.pack("<I", len(bypass)) + bypass
    assert parse_winhttp_settings(blob) == ("p:8080", "<local>;*.praxis.local")
    direct = struct.pack("<4I", 0x28, 1, 1, 0) + struct.pack("<I", 0)
    assert parse_winhttp_settings(direct) is None
    assert parse_winhttp_settings(b"\x00") is None


def test_no_proxy_means_direct_and_the_environment_counts_on_linux() -> None:
    assert ProxyResolver(ProxyConfig(mode="none"), environ={"HTTPS_PROXY": "http://p:1"}).route("h", 443) == DIRECT
    env = {"HTTPS_PROXY": "http://p:3128", "NO_PROXY": "intern.praxis"}
    resolver = ProxyResolver(ProxyConfig(), environ=env)
    assert resolver.route("platform.test", 443) == (Proxy("p", 3128),)
    assert resolver.route("intern.praxis", 443) == DIRECT
