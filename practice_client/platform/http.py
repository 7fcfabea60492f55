"""One HTTPS exchange with the platform, and the retry profiles.

Rules (each one a defence from DESIGN.md's threat model):
- ``https://`` only; TLS verification always on (:func:`practice_client.platform.tls.tls_context`:
  the OS trust store plus the configured CA file; requests' certifi bundle is never
  loaded), TLS >= 1.2, redirects never followed (no downgrade by redirect);
- optional SPKI pins, checked on every new connection before a single byte of the
  request is sent;
- every answer is read with a cap (:data:`MAX_ANSWER_BYTES` unless the call allows
  more), so a hostile server cannot exhaust memory;
- connections go directly or through the proxy the route gives
  (:mod:`practice_client.platform.proxy`);
- the bearer token goes in a header only, never in a message or a log line.

Transient failures (connection errors, timeouts, 5xx, what a call names as transient)
are retried with capped exponential backoff and jitter, a bounded number of times;
other 4xx fail at once. Timeouts grow with the size of what is sent. How patient a
client is, is its :class:`Profile`: :data:`PROFILES` names the two the client uses.
One session may be shared by worker threads (urllib3's pool is thread-safe).
"""

from __future__ import annotations

import hmac
import logging
import random
import socket
import ssl
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar
from urllib.parse import urlsplit

import requests
import requests.adapters
import requests.auth
import urllib3.connection
import urllib3.connectionpool
import urllib3.exceptions

from practice_client.core.errors import InputError, NetworkError, PlatformRefused
from practice_client.core.logs import register_sensitive
from practice_client.platform.proxy import ProxyAuthFailed, ProxyResolver, open_connection
from practice_client.platform.tls import PinMismatch, normalize_pins, spki_sha256, tls_context

log = logging.getLogger(__name__)

T = TypeVar("T")
BLOCK_SIZE = 1024 * 1024  # bytes per socket write and file read
MAX_ANSWER_BYTES = 1024 * 1024  # any answer of the platform, unless the call allows more
MAX_ERROR_BYTES = 64 * 1024  # the body of an error answer (only its message is shown)
_ALWAYS_TRANSIENT = frozenset({408, 429})  # request timeout, too many requests: later is fine
# TLS failures that no retry can cure: a certificate we must not trust, no common protocol.
_PERMANENT_TLS_REASONS = {
    "TLSV1_ALERT_PROTOCOL_VERSION", "UNSUPPORTED_PROTOCOL", "WRONG_VERSION_NUMBER",
    "NO_PROTOCOLS_AVAILABLE", "TLSV1_ALERT_UNKNOWN_CA", "SSLV3_ALERT_HANDSHAKE_FAILURE",
}


class AnswerTooLarge(NetworkError):
    """The platform's answer is larger than the call allows: refused before it is all read."""


class UploadCancelled(NetworkError):
    """The caller asked the upload to stop; the server keeps what it has for a later resume."""


class Cancelled(Exception):
    """Raised from the request body reader to abort a PATCH mid-body."""


class SourceShrunk(Exception):
    """The file being sent got shorter than announced: no retry can fix that."""


class Transient(Exception):
    """A failure a retry may cure (connection, timeout, 5xx, upload conflicts)."""


class _BearerAuth(requests.auth.AuthBase):
    def __init__(self, token: str) -> None:
        self._token = token

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"Bearer {self._token}"
        return request


class _PlatformHTTPSConnection(urllib3.connection.HTTPSConnection):
    """Opens its socket along the route (directly or a CONNECT tunnel: the TLS session runs
    end to end either way) and checks the SPKI pins on every new connection."""

    spki_pins: frozenset[str] = frozenset()
    resolver: ProxyResolver | None = None

    def _new_conn(self) -> socket.socket:
        try:
            return open_connection(self._dns_host, self.port, self.timeout, self.resolver)
        except TimeoutError as exc:
            raise urllib3.exceptions.ConnectTimeoutError(self, f"connecting timed out ({exc})") from exc
        except OSError as exc:
            raise urllib3.exceptions.NewConnectionError(self, f"cannot connect: {exc}") from exc

    def connect(self) -> None:
        super().connect()
        if not self.spki_pins:
            return
        getpeercert = getattr(self.sock, "getpeercert", None)
        der = getpeercert(binary_form=True) if getpeercert is not None else None
        actual = spki_sha256(der) if der else ""
        if not any(hmac.compare_digest(actual, pin) for pin in sorted(self.spki_pins)):
            self.close()
            raise PinMismatch("the server's public key does not match a configured SPKI pin")


class _PlatformAdapter(requests.adapters.HTTPAdapter):
    """HTTPS with our SSL context (the OS trust store and ca_file, TLS >= 1.2), 1 MiB socket
    writes, connections along the proxy route, the SPKI pins checked on each of them."""

    def __init__(self, context: ssl.SSLContext, pins: frozenset[str], resolver: ProxyResolver) -> None:
        self._context = context
        connection = type("PlatformConnection", (_PlatformHTTPSConnection,),
                          {"spki_pins": pins, "resolver": resolver})
        pool = type("PlatformPool", (urllib3.connectionpool.HTTPSConnectionPool,),
                    {"ConnectionCls": connection})
        self._pool_classes: dict[str, type[urllib3.connectionpool.HTTPConnectionPool]] = {
            "http": urllib3.connectionpool.HTTPConnectionPool, "https": pool,
        }
        super().__init__(pool_connections=1, pool_maxsize=8)

    def init_poolmanager(
        self, connections: int, maxsize: int, block: bool = False, **pool_kwargs: Any
    ) -> None:
        pool_kwargs.update(ssl_context=self._context, blocksize=BLOCK_SIZE)
        super().init_poolmanager(connections, maxsize, block, **pool_kwargs)
        self.poolmanager.pool_classes_by_scheme = self._pool_classes

    def cert_verify(self, conn: Any, url: str, verify: Any, cert: Any) -> None:
        """requests would set certifi's bundle as the connection's ``ca_certs``, and urllib3
        would load Mozilla's roots into our context beside the OS's: never. Verification
        stays on; what is trusted is the context's alone."""
        conn.cert_reqs = "CERT_REQUIRED"
        conn.ca_certs = None
        conn.ca_cert_dir = None


@dataclass(frozen=True)
class RetryPolicy:
    """Capped exponential backoff with jitter, a bounded number of attempts."""

    attempts: int = 8
    base_delay: float = 0.5
    max_delay: float = 30.0

    def delay(self, failures: int) -> float:
        ceiling = min(self.max_delay, self.base_delay * 2.0 ** (failures - 1))
        return ceiling / 2 + random.uniform(0, ceiling / 2)  # noqa: S311 - jitter, not crypto


@dataclass(frozen=True)
class Timeouts:
    """Connect timeout fixed; the read timeout grows with what was sent (the server
    may need to store and sync it before it answers)."""

    connect: float = 10.0
    read: float = 30.0
    bytes_per_second: float = 1024 * 1024

    def for_size(self, nbytes: int) -> tuple[float, float]:
        return self.connect, self.read + nbytes / self.bytes_per_second


@dataclass(frozen=True)
class Profile:
    """How patient a client is: its retries and timeouts."""

    retry: RetryPolicy = field(default_factory=RetryPolicy)
    timeouts: Timeouts = field(default_factory=Timeouts)


ProfileName = Literal["interactive", "background"]
PROFILES: dict[ProfileName, Profile] = {
    # staff wait for the answer (a decision, a fetch from the command line): give up
    # quickly, the agent tries again in the background
    "interactive": Profile(RetryPolicy(attempts=2, base_delay=0.2, max_delay=0.5),
                           Timeouts(connect=5.0, read=30.0)),
    # the agent and whatever may take its time: patient, bounded
    "background": Profile(),
}


def _root_cause(exc: BaseException) -> BaseException:
    """The innermost exception under requests' and urllib3's wrappers."""
    seen: set[int] = set()
    while id(exc) not in seen:
        seen.add(id(exc))
        inner = getattr(exc, "reason", None)
        if not isinstance(inner, BaseException):
            inner = next((a for a in exc.args if isinstance(a, BaseException)), None)
        if inner is None:
            inner = exc.__cause__ or exc.__context__
        if inner is None:
            break
        exc = inner
    return exc


def _describe(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text[:200]


def _server_message(response: requests.Response) -> str:
    try:
        message = response.json().get("error", "")
    except (ValueError, AttributeError):
        message = ""
    return " ".join(str(message).split())[:200]


def _read_capped(response: requests.Response, limit: int, what: str) -> None:
    """Read the (streamed) body into ``response.content``, at most ``limit`` bytes: a
    larger answer is refused by its Content-Length before any of it is read, or as soon
    as the bytes received pass the limit. Compressed answers are refused (the client asks
    for ``identity``): a small compressed body could unpack to any size."""
    declared = response.headers.get("Content-Length", "")
    encoding = response.headers.get("Content-Encoding", "identity").strip().lower()
    if encoding not in ("", "identity"):
        response.close()
        raise NetworkError(f"{what}: the platform sent a compressed answer ({encoding[:20]}) - refused")
    if declared.isdigit() and int(declared) > limit:
        response.close()
        raise AnswerTooLarge(f"{what}: the platform's answer ({declared} bytes) is larger than "
                             f"{limit} bytes - refused")
    chunks: list[bytes] = []
    received = 0
    for chunk in response.raw.stream(BLOCK_SIZE, decode_content=False):
        received += len(chunk)
        if received > limit:
            response.close()
            raise AnswerTooLarge(f"{what}: the platform's answer is larger than {limit} bytes - refused")
        chunks.append(chunk)
    response._content = b"".join(chunks)  # what requests itself fills in for .content/.json()
    response._content_consumed = True


class HttpSession:
    """HTTPS to one platform: its session (pins, route, token), its profile's retries.
    :class:`~practice_client.platform.api.PlatformClient` and
    :class:`~practice_client.platform.tus.Tus` send through it."""

    def __init__(
        self, base_url: str, token: str, *, ca_file: Path | None, pins: Sequence[str],
        proxy: ProxyResolver | None, retry: RetryPolicy, timeouts: Timeouts,
        stopping: threading.Event | None = None,
    ) -> None:
        parts = urlsplit(base_url)
        if parts.scheme != "https" or not parts.hostname:
            raise NetworkError(
                f"{base_url}: refused - the platform is only contacted over https://"
            )
        if not token:
            raise NetworkError("no platform token is configured")
        register_sensitive(token)
        self.base_url = base_url.rstrip("/")
        self.retry = retry
        self.timeouts = timeouts
        # set when the process shuts down: no new request, no wait for a retry - so a stop
        # (a service manager's SIGTERM) is never held up by a retry schedule of minutes
        self.stopping = stopping if stopping is not None else threading.Event()
        self._session = requests.Session()
        self._session.headers["User-Agent"] = "practice-client"
        self._session.headers["Accept-Encoding"] = "identity"  # sizes capped as sent (_read_capped)
        self._session.auth = _BearerAuth(token)  # an explicit auth: ~/.netrc is never consulted
        # requests never reads the environment: REQUESTS_CA_BUNDLE and friends can never add
        # CAs behind our back, and it no longer re-reads os.environ on every call (a third
        # of its overhead per upload). Proxies are the route's (platform/proxy.py), which
        # honours HTTPS_PROXY/NO_PROXY among the system's settings.
        self._session.trust_env = False
        resolver = proxy if proxy is not None else ProxyResolver()
        self._session.mount("https://", _PlatformAdapter(tls_context(ca_file), normalize_pins(pins), resolver))

    def close(self) -> None:
        self._session.close()

    def send(
        self, method: str, path: str, *, expect: tuple[int, ...], sent_bytes: int = 0,
        transient: tuple[int, ...] = (), max_bytes: int = MAX_ANSWER_BYTES,
        sink: Callable[[requests.Response], None] | None = None, **kwargs: Any,
    ) -> requests.Response:
        """One request. Returns a response whose status is in ``expect``, its body read
        (at most ``max_bytes``: :class:`AnswerTooLarge`) - or, with ``sink``, handed to the
        sink to stream it (to disk); raises :class:`Transient` for what a retry may cure
        and NetworkError otherwise."""
        what = f"{method} {path}"
        if self.stopping.is_set():
            raise UploadCancelled(f"{what}: cancelled - shutting down")
        try:
            response = self._session.request(
                method, self.base_url + path, timeout=self.timeouts.for_size(sent_bytes),
                allow_redirects=False, verify=True, stream=True, **kwargs,
            )
            expected = response.status_code in expect
            if expected and sink is not None:
                sink(response)
            else:
                _read_capped(response, max_bytes if expected else MAX_ERROR_BYTES, what)
        except AnswerTooLarge:
            if expected:
                raise
            response.close()
            response._content, response._content_consumed = b"", True  # an error without its text
        except PinMismatch as exc:
            raise NetworkError(f"{self.base_url}: refused - {exc}") from None
        except requests.exceptions.SSLError as exc:
            cause = _root_cause(exc)
            if isinstance(cause, ssl.SSLCertVerificationError):
                raise NetworkError(
                    f"{self.base_url}: refused - the server certificate is not trusted "
                    f"({cause.verify_message})"
                ) from None
            if isinstance(cause, ssl.SSLError) and cause.reason in _PERMANENT_TLS_REASONS:
                raise NetworkError(f"{self.base_url}: TLS handshake refused ({cause.reason})") from None
            raise Transient(f"{what}: TLS connection failed: {_describe(cause)}") from None
        except requests.exceptions.Timeout:
            raise Transient(f"{what}: timed out") from None
        except (requests.exceptions.ConnectionError, requests.exceptions.ChunkedEncodingError) as exc:
            cause = _root_cause(exc)
            if isinstance(cause, ProxyAuthFailed):  # the same credentials will not do next time
                raise NetworkError(f"{what}: {_describe(cause)}") from None
            raise Transient(f"{what}: connection failed: {_describe(cause)}") from None
        except urllib3.exceptions.ReadTimeoutError:
            raise Transient(f"{what}: timed out") from None
        except urllib3.exceptions.HTTPError as exc:  # while the body was read
            raise Transient(f"{what}: connection failed: {_describe(_root_cause(exc))}") from None
        except requests.exceptions.RequestException as exc:
            raise NetworkError(f"{what}: {_describe(_root_cause(exc))}") from None
        except Cancelled:
            raise UploadCancelled(f"{what}: cancelled") from None
        except SourceShrunk as exc:
            raise InputError(str(exc), "the file got shorter while it was being uploaded") from None
        status = response.status_code
        if status in expect:
            return response
        detail = _server_message(response)
        response.close()
        del response  # a traceback kept by the caller must not keep the connection open
        message = f"{what}: the platform answered {status}" + (f" ({detail})" if detail else "")
        if status >= 500 or status in transient or status in _ALWAYS_TRANSIENT:
            raise Transient(message)
        if status == 401:
            raise NetworkError(f"{what}: the platform refused the token (401) - check the token")
        if 400 <= status < 500:
            raise PlatformRefused(message)
        raise NetworkError(message)

    def wait(self, failures: int, cancel: threading.Event | None) -> None:
        """The backoff before a retry, cut short by ``cancel`` (the caller's, which its
        owner also sets when it stops) or else by the session's ``stopping``."""
        if (cancel or self.stopping).wait(self.retry.delay(failures)) or self.stopping.is_set():
            raise UploadCancelled("cancelled while waiting to retry")

    def retrying(self, what: str, action: Callable[[], T]) -> T:
        """Run ``action`` until it succeeds, retrying transient failures (bounded)."""
        failures = 0
        while True:
            try:
                return action()
            except Transient as exc:
                failures += 1
                if failures >= self.retry.attempts:
                    raise NetworkError(f"{exc} - gave up after {failures} attempts") from None
                log.info("%s: %s; retry %d of %d", what, exc, failures, self.retry.attempts - 1)
                self.wait(failures, None)
