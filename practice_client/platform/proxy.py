"""The route to a server and the TCP connection along it, for every connection the client
opens (the platform API, IMAP).

Route (:class:`ProxyResolver`), as practices run it: ``proxy = "none"`` connects directly;
``proxy = "http://HOST:PORT"`` always uses that proxy; ``proxy = "system"`` (the default)
follows, in order, ``proxy_pac_url`` (a PAC file, or ``wpad`` to discover one by DNS), the
environment (``HTTPS_PROXY``/``NO_PROXY``, as every OS's tools honour it), then the OS:
the PAC URL or proxy of the Windows Internet settings (WinINet, then the machine-wide
WinHTTP proxy that services use) or of the macOS network settings. PAC files are
evaluated by ``pypac``; a PAC answer may list several proxies and ``DIRECT``: each is tried
in turn. Only HTTP proxies are used (CONNECT); SOCKS entries are skipped.

Connection (:func:`open_connection`): a plain TCP socket to the server - directly, or a
tunnel through the proxy (HTTP ``CONNECT``), so TLS always runs end to end and the proxy
sees only the host name. A proxy that asks for authentication (407) gets Negotiate or NTLM
through ``pyspnego`` (on Windows with the logged-on user's credentials; elsewhere with
``proxy_user`` and its password from the OS keyring) or Basic (``proxy_user`` + password).
Every answer from a proxy or PAC server is read with a size cap.
"""

from __future__ import annotations

import base64
import contextlib
import logging
import os
import socket
import struct
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from email.message import Message
from email.parser import BytesHeaderParser
from typing import Any
from urllib.parse import urlsplit

from practice_client.core.errors import InputError, NetworkError
from practice_client.platform.tls import tls_context

log = logging.getLogger(__name__)

MAX_PROXY_ANSWER_BYTES = 64 * 1024  # a CONNECT answer's head and body
MAX_PAC_BYTES = 1024 * 1024
PAC_TIMEOUT_SECONDS = 5.0
PAC_REFRESH_SECONDS = 15 * 60.0  # a PAC file is fetched again after this long
_WINHTTP_KEY = r"Software\Microsoft\Windows\CurrentVersion\Internet Settings\Connections"


# --- route ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Proxy:
    """An HTTP proxy (CONNECT)."""

    host: str
    port: int

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"


Route = tuple[Proxy | None, ...]  # None: connect directly
DIRECT: Route = (None,)


def parse_proxy(value: str, source: str) -> Proxy:
    """``http://HOST:PORT`` (or ``HOST:PORT``) as a :class:`Proxy`; credentials in the URL
    are refused - the password belongs in the OS keyring."""
    text = value.strip()
    parts = urlsplit(text if "://" in text else f"http://{text}")
    if parts.scheme != "http" or not parts.hostname:
        raise InputError(source, f"'{text}' is not an http:// proxy (HTTP CONNECT)")
    if parts.username or parts.password:
        raise InputError(source, "no credentials in the proxy URL: set proxy_user, the password goes in the keyring")
    try:
        port = parts.port or 8080
    except ValueError:
        raise InputError(source, f"'{text}': not a valid port") from None
    return Proxy(parts.hostname, port)


def parse_pac_answer(answer: str) -> Route:
    """A PAC result (``"PROXY a:3128; DIRECT"``) as a route; SOCKS/HTTPS entries skipped."""
    route: list[Proxy | None] = []
    for entry in answer.split(";"):
        words = entry.split()
        if not words:
            continue
        kind = words[0].upper()
        if kind == "DIRECT":
            route.append(None)
        elif kind in ("PROXY", "HTTP") and len(words) == 2:
            with contextlib.suppress(InputError):
                route.append(parse_proxy(words[1], "PAC"))
    return tuple(route)


def parse_winhttp_settings(blob: bytes) -> tuple[str, str] | None:
    """The proxy and bypass list of the ``WinHttpSettings`` registry value (what
    ``netsh winhttp set proxy`` writes: little-endian DWORDs - size, counter, flags - then
    the proxy and the bypass list, each as a DWORD length and ASCII), or None for direct."""
    try:
        _size, _counter, flags, proxy_len = struct.unpack_from("<4I", blob, 0)
        proxy = blob[16:16 + proxy_len].decode("ascii")
        (bypass_len,) = struct.unpack_from("<I", blob, 16 + proxy_len)
        start = 20 + proxy_len
        bypass = blob[start:start + bypass_len].decode("ascii")
    except (struct.error, UnicodeDecodeError):
        return None
    if not flags & 0x2 or not proxy:  # PROXY_TYPE_PROXY not set: direct
        return None
    return proxy, bypass


def _bypassed(host: str, bypass: str) -> bool:
    """WinHTTP/WinINet bypass list: ``;``-separated names with ``*``, ``<local>``."""
    import fnmatch

    for entry in (e.strip().lower() for e in bypass.replace(",", ";").split(";")):
        if entry == "<local>" and "." not in host:
            return True
        if entry and fnmatch.fnmatch(host.lower(), entry):
            return True
    return False


def _pick(proxies: Mapping[str, str], scheme: str) -> str | None:
    """The proxy for ``scheme`` from a urllib-style mapping (``https``, then ``all``)."""
    return proxies.get(scheme) or proxies.get("all")


def _winhttp_proxy(host: str) -> str | None:  # pragma: no cover - Windows only
    import winreg  # type: ignore[import-not-found,unused-ignore]

    try:
        with winreg.OpenKey(winreg.HKEY_LOCAL_MACHINE, _WINHTTP_KEY) as key:  # type: ignore[attr-defined,unused-ignore]
            blob = winreg.QueryValueEx(key, "WinHttpSettings")[0]  # type: ignore[attr-defined,unused-ignore]
    except OSError:
        return None
    found = parse_winhttp_settings(bytes(blob))
    if found is None or _bypassed(host, found[1]):
        return None
    proxy = found[0]
    if "=" in proxy:  # "http=a:1;https=b:2"
        by_scheme = dict(p.split("=", 1) for p in proxy.split(";") if "=" in p)
        return by_scheme.get("https") or by_scheme.get("http")
    return proxy


def _os_pac_url() -> str | None:
    """The PAC URL of the OS's proxy settings (Windows, macOS), if any."""
    found: object = None
    try:
        from pypac import os_settings

        if sys.platform == "win32":  # pragma: no cover - Windows only
            found = os_settings.autoconfig_url_from_registry()
        elif sys.platform == "darwin":  # pragma: no cover - macOS only
            found = os_settings.autoconfig_url_from_preferences()
    except Exception as exc:  # noqa: BLE001 - no readable OS setting means: none
        log.debug("no PAC URL from the OS settings (%s)", type(exc).__name__)
        return None
    return str(found) if found else None


def _os_proxy(host: str, scheme: str) -> str | None:
    """The static proxy of the OS's settings for ``host``."""
    if sys.platform == "win32":  # pragma: no cover - Windows only
        if not urllib.request.proxy_bypass_registry(host):  # type: ignore[attr-defined,unused-ignore]
            found = _pick(urllib.request.getproxies_registry(), scheme)  # type: ignore[attr-defined,unused-ignore]
            if found:
                return found
        return _winhttp_proxy(host)
    if sys.platform == "darwin":  # pragma: no cover - macOS only
        if urllib.request.proxy_bypass_macosx_sysconf(host):  # type: ignore[attr-defined,unused-ignore]
            return None
        return _pick(urllib.request.getproxies_macosx_sysconf(), scheme)  # type: ignore[attr-defined,unused-ignore]
    return None


@dataclass(frozen=True)
class ProxyConfig:
    """The proxy settings (config keys ``proxy``, ``proxy_pac_url``, ``proxy_user``)."""

    mode: str = "system"  # "system", "none" or an http:// proxy URL
    pac_url: str = ""  # a PAC file's URL, or "wpad" (discovery by DNS)
    user: str = ""
    password: str = field(default="", repr=False)

    def check(self, source: str) -> None:
        if self.mode not in ("system", "none"):
            parse_proxy(self.mode, f"{source}: proxy")
        if self.pac_url and self.pac_url != "wpad":
            scheme = urlsplit(self.pac_url).scheme
            if scheme not in ("http", "https", "file"):
                raise InputError(source, f"proxy_pac_url '{self.pac_url}' is not an http(s):// or file:// URL")


PacFetcher = Callable[[str], str]


class ProxyResolver:
    """Which proxies to try for a server, in order. Thread-safe; a PAC file is fetched
    once and again after :data:`PAC_REFRESH_SECONDS`."""

    def __init__(self, config: ProxyConfig | None = None,
                 environ: Mapping[str, str] | None = None) -> None:
        self.config = config or ProxyConfig()
        self._environ = os.environ if environ is None else environ
        self._lock = threading.Lock()
        self._pac: tuple[float, object | None] | None = None  # (fetched at, PACFile or None)

    def route(self, host: str, port: int, scheme: str = "https") -> Route:
        mode = self.config.mode
        if mode == "none":
            return DIRECT
        if mode != "system":
            return (parse_proxy(mode, "proxy"),)
        pac_url = self.config.pac_url or (_os_pac_url() or "")
        if pac_url:
            route = self._pac_route(pac_url, host, port, scheme)
            if route:
                return route
        env = {k.lower(): v for k, v in self._environ.items() if k.lower().endswith("_proxy")}
        proxies = {k[: -len("_proxy")]: v for k, v in env.items() if v}
        if proxies and not urllib.request.proxy_bypass_environment(host, proxies):  # type: ignore[attr-defined]
            found = _pick(proxies, scheme)
            if found:
                return (parse_proxy(found, f"{scheme.upper()}_PROXY"),)
        elif proxies:  # NO_PROXY names this host
            return DIRECT
        found = _os_proxy(host, scheme)
        return (parse_proxy(found, "the OS proxy settings"),) if found else DIRECT

    def _pac_route(self, pac_url: str, host: str, port: int, scheme: str) -> Route:
        pac = self._pac_file(pac_url)
        if pac is None:
            return ()
        url = f"{scheme}://{host}:{port}/"
        try:
            answer = pac.find_proxy_for_url(url, host)  # type: ignore[attr-defined]
        except Exception as exc:  # noqa: BLE001 - a broken PAC must not stop the client
            log.warning("the PAC file failed for a host (%s): connecting directly", type(exc).__name__)
            return DIRECT
        return parse_pac_answer(str(answer)) or DIRECT

    def _pac_file(self, pac_url: str) -> object | None:
        with self._lock:
            if self._pac is not None and time.monotonic() - self._pac[0] < PAC_REFRESH_SECONDS:
                return self._pac[1]
        from pypac.parser import MalformedPacError, PACFile

        pac: object | None = None
        for url in self._pac_candidates(pac_url):
            try:
                pac = PACFile(fetch_pac(url))
                break
            except (OSError, NetworkError, MalformedPacError) as exc:
                log.warning("PAC file %s not usable (%s)", url, exc)
        with self._lock:
            self._pac = (time.monotonic(), pac)
        return pac

    @staticmethod
    def _pac_candidates(pac_url: str) -> list[str]:
        if pac_url != "wpad":
            return [pac_url]
        from pypac.wpad import proxy_urls_from_dns

        return list(proxy_urls_from_dns())


def fetch_pac(url: str) -> str:
    """A PAC file's text: ``file://`` or http(s) fetched directly (never through a proxy),
    at most :data:`MAX_PAC_BYTES`."""
    parts = urlsplit(url)
    if parts.scheme == "file":
        with open(urllib.request.url2pathname(parts.path), "rb") as handle:
            data = handle.read(MAX_PAC_BYTES + 1)
    else:
        import http.client

        host = parts.hostname or ""
        connection: http.client.HTTPConnection
        if parts.scheme == "https":
            connection = http.client.HTTPSConnection(host, parts.port, timeout=PAC_TIMEOUT_SECONDS,
                                                     context=tls_context(None))
        else:
            connection = http.client.HTTPConnection(host, parts.port, timeout=PAC_TIMEOUT_SECONDS)
        try:
            connection.request("GET", (parts.path or "/") + (f"?{parts.query}" if parts.query else ""))
            response = connection.getresponse()
            if response.status != 200:
                raise NetworkError(f"{url}: the PAC server answered {response.status}")
            data = response.read(MAX_PAC_BYTES + 1)
        finally:
            connection.close()
    if len(data) > MAX_PAC_BYTES:
        raise NetworkError(f"{url}: the PAC file is larger than {MAX_PAC_BYTES} bytes")
    return data.decode("utf-8", errors="replace")


# --- connection ----------------------------------------------------------------------------

class ProxyError(OSError):
    """The proxy refused the tunnel or its authentication (an OSError: a failed connect)."""


class ProxyAuthFailed(ProxyError):
    """The proxy wants credentials the client does not have or refused them: no retry helps."""


class _ProxyAuth:
    """Answers a proxy's 407 challenges: Negotiate or NTLM (pyspnego), else Basic."""

    def __init__(self, config: ProxyConfig, proxy: Proxy) -> None:
        self._config = config
        self._proxy = proxy
        self._context: Any = None  # a spnego context in progress
        self._scheme = ""
        self._sent_basic = False

    def answer(self, challenges: list[str]) -> str | None:
        offered = {c.split(None, 1)[0].lower(): (c.split(None, 1) + [""])[1].strip() for c in challenges if c.strip()}
        if self._context is not None:  # the next leg of Negotiate / NTLM
            token = offered.get(self._scheme.lower(), "")
            if not token:
                return None
            return self._step(base64.b64decode(token))
        for scheme in ("Negotiate", "NTLM"):
            if scheme.lower() in offered and self._may_use_spnego():
                with contextlib.suppress(Exception):
                    import spnego

                    self._context = spnego.client(
                        self._config.user or None, self._config.password or None,
                        hostname=self._proxy.host, service="HTTP", protocol=scheme.lower(),
                    )
                    self._scheme = scheme
                    return self._step(None)
                self._context = None
        if "basic" in offered and self._config.user and self._config.password and not self._sent_basic:
            self._sent_basic = True  # a second 407 after it: the proxy refused these credentials
            pair = f"{self._config.user}:{self._config.password}".encode()
            self._scheme = "Basic"
            return "Basic " + base64.b64encode(pair).decode("ascii")
        return None

    def _may_use_spnego(self) -> bool:
        # With no credentials of ours only SSPI (Windows' logged-on user) can answer.
        return bool(self._config.user and self._config.password) or sys.platform == "win32"

    def _step(self, token: bytes | None) -> str | None:
        out = self._context.step(token)
        return f"{self._scheme} {base64.b64encode(out).decode('ascii')}" if out else None

    @property
    def pending(self) -> bool:
        """A connection-bound handshake (NTLM/Negotiate) is under way."""
        return self._context is not None

    @property
    def sent_basic(self) -> bool:
        return self._sent_basic


def _read_answer(sock: socket.socket, proxy: Proxy) -> tuple[int, str, Message]:
    """The proxy's answer to CONNECT (status, reason, headers), its body consumed; never
    reads past it (what follows belongs to the tunnel)."""
    data = b""
    while b"\r\n\r\n" not in data:
        if len(data) > MAX_PROXY_ANSWER_BYTES:
            raise ProxyError(f"proxy {proxy}: answer too large")
        chunk = sock.recv(1)  # byte by byte: the tunnel's first bytes must stay in the socket
        if not chunk:
            raise ProxyError(f"proxy {proxy}: closed the connection")
        data += chunk
    head, _, _ = data.partition(b"\r\n\r\n")
    status_line, _, header_bytes = head.partition(b"\r\n")
    words = status_line.decode("latin-1").split(None, 2)
    if len(words) < 2 or not words[0].startswith("HTTP/") or not words[1].isdigit():
        raise ProxyError(f"proxy {proxy}: not an HTTP answer")
    headers = BytesHeaderParser().parsebytes(header_bytes)
    length = int(headers.get("Content-Length", "0") or 0) if int(words[1]) != 200 else 0
    if length > MAX_PROXY_ANSWER_BYTES:
        raise ProxyError(f"proxy {proxy}: answer too large")
    while length > 0:
        chunk = sock.recv(min(length, 65536))
        if not chunk:
            break
        length -= len(chunk)
    return int(words[1]), words[2] if len(words) > 2 else "", headers


def _tunnel(proxy: Proxy, host: str, port: int, timeout: float | None, config: ProxyConfig) -> socket.socket:
    auth = _ProxyAuth(config, proxy)
    authorization: str | None = None
    target = f"{host}:{port}" if ":" not in host else f"[{host}]:{port}"
    sock = socket.create_connection((proxy.host, proxy.port), timeout)
    try:
        for _ in range(4):  # request, challenge, NTLM's second leg, and one to spare
            lines = [f"CONNECT {target} HTTP/1.1", f"Host: {target}", "Proxy-Connection: keep-alive"]
            if authorization:
                lines.append(f"Proxy-Authorization: {authorization}")
            sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
            status, reason, headers = _read_answer(sock, proxy)
            if status == 200:
                return sock
            challenges = headers.get_all("Proxy-Authenticate") or []
            if status not in (401, 407) or (status == 401 and not authorization):
                raise ProxyError(f"proxy {proxy}: CONNECT {target} refused ({status} {reason.strip()})")
            mid_handshake = auth.pending
            authorization = auth.answer(challenges) if status == 407 else None
            if authorization is None:
                offered = ", ".join(c.split()[0] for c in challenges if c.strip()) or "no scheme offered"
                if mid_handshake or auth.sent_basic:
                    raise ProxyAuthFailed(f"proxy {proxy}: authentication required ({offered}): it refused the "
                                     f"credentials of proxy_user '{config.user}' ({status})")
                raise ProxyAuthFailed(f"proxy {proxy}: authentication required ({offered}): set proxy_user "
                                 "and its password in the keyring (Negotiate/NTLM on Windows need neither)")
            if "close" in (headers.get("Connection", "") + headers.get("Proxy-Connection", "")).lower():
                if mid_handshake:  # NTLM's legs belong to one connection
                    raise ProxyError(f"proxy {proxy}: closed the connection during authentication")
                sock.close()
                sock = socket.create_connection((proxy.host, proxy.port), timeout)
        raise ProxyError(f"proxy {proxy}: authentication did not complete")
    except BaseException:
        sock.close()
        raise


def open_connection(host: str, port: int, timeout: float | None,
                    resolver: ProxyResolver | None = None) -> socket.socket:
    """A TCP connection to ``host:port`` along the route ``resolver`` gives (directly when
    None): the socket factory for TLS clients (the platform API, IMAP). Raises OSError
    (:class:`ProxyError` for a proxy's refusal) when no route works."""
    route = resolver.route(host, port) if resolver is not None else DIRECT
    config = resolver.config if resolver is not None else ProxyConfig()
    failure: OSError | None = None
    for hop in route:
        try:
            if hop is None:
                sock = socket.create_connection((host, port), timeout)
            else:
                sock = _tunnel(hop, host, port, timeout, config)
        except OSError as exc:
            failure = exc
            log.info("connection via %s failed (%s)", hop or "direct", type(exc).__name__)
            continue
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock
    raise failure or ProxyError("no route to the server")
