"""The HTTPS client for the platform API - the only way the client talks to the platform.

Rules (each one a defence from DESIGN.md's threat model):
- ``https://`` only; TLS verification always on (the OS trust store plus the configured
  CA file - :func:`practice_client.core.network.tls_context`; requests' certifi bundle is
  never loaded), TLS >= 1.2, redirects never followed (no downgrade by redirect);
- optional SPKI pins: the SHA-256 of the server certificate's SubjectPublicKeyInfo,
  checked on every new connection, before a single byte of the request is sent; any of
  several pins matches (a backup pin lets the platform rotate its key);
- every answer is read with a cap (:data:`MAX_ANSWER_BYTES`, more for the inbox, a
  caller's limit for downloads), so a hostile server cannot exhaust memory;
- connections go directly or through the proxy the route gives
  (:mod:`practice_client.core.network`: system proxy, PAC, CONNECT with authentication);
- the bearer token goes in a header only, never in a message or a log line.

Uploads (tus 1.0, at the URLs the server names) are :mod:`practice_client.core.tus`,
on this client's session (:attr:`PlatformClient.tus`).
Transient failures (connection errors, timeouts, 5xx,
409/423 on an upload) are retried with capped exponential backoff and jitter, a
bounded number of times; other 4xx fail at once. Timeouts grow with the size of
what is sent. One client may be shared by worker threads (urllib3's pool is
thread-safe).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import logging
import random
import re
import socket
import ssl
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import quote, urlsplit

import requests
import requests.adapters
import requests.auth
import urllib3.connection
import urllib3.connectionpool
import urllib3.exceptions
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from practice_client.core.errors import InputError, NetworkError, NotConfigured, PlatformRefused
from practice_client.core.logs import register_sensitive
from practice_client.core.network import (
    ProxyAuthFailed,
    ProxyConfig,
    ProxyResolver,
    open_connection,
    tls_context,
)
from practice_client.core.secrets import PLATFORM_TOKEN

if TYPE_CHECKING:
    from practice_client.context import Context
    from practice_client.core.tus import Tus

log = logging.getLogger(__name__)

T = TypeVar("T")
PLATFORM_ID_RE = re.compile(r"^[A-Za-z0-9-]{8,64}$")
FINGERPRINT_RE = re.compile(r"^[0-9A-F]{40}$")
BLOCK_SIZE = 1024 * 1024  # bytes per socket write and file read
MAX_PATCH_BYTES = 64 * 1024 * 1024  # one PATCH at most: the server checkpoints in between
PARTS = ("document", "manifest")
AUDIT_CHECKPOINT_PATH = "/v1/practice/audit-checkpoint"
MAX_CHECKPOINT_BYTES = 64 * 1024  # a checkpoint and its signature are a few hundred bytes
MAX_ANSWER_BYTES = 1024 * 1024  # any answer of the platform, unless the call allows more
MAX_ERROR_BYTES = 64 * 1024  # the body of an error answer (only its message is shown)
MAX_INBOX_BYTES = 64 * 1024 * 1024  # one inbox page (request messages are at most 2 MiB each)
MAX_DOWNLOAD_BYTES = 256 * 1024 * 1024  # default limit of download()
_ALWAYS_TRANSIENT = frozenset({408, 429})  # request timeout, too many requests: later is fine
# TLS failures that no retry can cure: a certificate we must not trust, no common protocol.
_PERMANENT_TLS_REASONS = {
    "TLSV1_ALERT_PROTOCOL_VERSION", "UNSUPPORTED_PROTOCOL", "WRONG_VERSION_NUMBER",
    "NO_PROTOCOLS_AVAILABLE", "TLSV1_ALERT_UNKNOWN_CA", "SSLV3_ALERT_HANDSHAKE_FAILURE",
}


def valid_platform_id(value: str) -> bool:
    """Document and request ids the platform accepts: a uuid or ``[A-Za-z0-9-]{8,64}``.
    The same rule on both sides keeps ids out of path traversal."""
    return bool(PLATFORM_ID_RE.match(value))


def spki_sha256(der_certificate: bytes) -> str:
    """The SPKI pin of a certificate: base64 of SHA-256 over its SubjectPublicKeyInfo."""
    cert = x509.load_der_x509_certificate(der_certificate)
    spki = cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return base64.b64encode(hashlib.sha256(spki).digest()).decode("ascii")


def spki_sha256_pem(pem: bytes) -> str:
    """The SPKI pin of a PEM certificate (for admins computing the pin to configure)."""
    cert = x509.load_pem_x509_certificate(pem)
    return spki_sha256(cert.public_bytes(serialization.Encoding.DER))


def _normalize_pin(pin: str) -> str:
    value = pin.strip().removeprefix("sha256/")
    try:
        if len(base64.b64decode(value, validate=True)) != 32:
            raise ValueError
    except (binascii.Error, ValueError):
        raise InputError("spki_pin", "not a base64 SHA-256 value (44 characters)") from None
    return value


def normalize_pins(pins: Sequence[str]) -> frozenset[str]:
    """Each pin checked (``sha256/`` prefix allowed); an empty sequence: no pinning."""
    return frozenset(_normalize_pin(p) for p in pins if p.strip())


class PinMismatch(Exception):
    """The server's public key is none of the pinned ones (raised inside urllib3's connect)."""


class AnswerTooLarge(NetworkError):
    """The platform's answer is larger than the call allows: refused before it is all read."""


class UploadCancelled(NetworkError):
    """The caller asked the upload to stop; the server keeps what it has for a later resume."""


class _Cancelled(Exception):
    """Raised from the request body reader to abort a PATCH mid-body."""


class _SourceShrunk(Exception):
    """The file being sent got shorter than announced: no retry can fix that."""


class _Transient(Exception):
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


def client_ssl_context(ca_file: Path | None) -> ssl.SSLContext:
    """The OS trust store plus the configured CA, hostname checks on, TLS 1.2 at least."""
    return tls_context(ca_file)


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


class PlatformClient:
    """The platform API over HTTPS. Use as a context manager (closes the session)."""

    def __init__(
        self, base_url: str, token: str, ca_file: Path | None = None,
        spki_pin: str | None = None, *, spki_pins: Sequence[str] = (),
        proxy: ProxyResolver | None = None, retry: RetryPolicy | None = None,
        timeouts: Timeouts | None = None, max_patch_bytes: int = MAX_PATCH_BYTES,
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
        self.retry = retry or RetryPolicy()
        self.timeouts = timeouts or Timeouts()
        self.max_patch_bytes = max_patch_bytes
        self._tus: Tus | None = None
        pins = normalize_pins([*spki_pins, *([spki_pin] if spki_pin else [])])
        self._session = requests.Session()
        self._session.headers["User-Agent"] = "practice-client"
        self._session.headers["Accept-Encoding"] = "identity"  # sizes capped as sent (_read_capped)
        self._session.auth = _BearerAuth(token)  # an explicit auth: ~/.netrc is never consulted
        # requests never reads the environment: REQUESTS_CA_BUNDLE and friends can never add
        # CAs behind our back, and it no longer re-reads os.environ on every call (a third
        # of its overhead per upload). Proxies are the route's (core/network.py), which
        # honours HTTPS_PROXY/NO_PROXY among the system's settings.
        self._session.trust_env = False
        resolver = proxy if proxy is not None else ProxyResolver()
        self._session.mount("https://", _PlatformAdapter(client_ssl_context(ca_file), pins, resolver))

    @classmethod
    def from_context(cls, ctx: Context, **options: Any) -> PlatformClient:
        """The client as configured: server URL, CA file and pin from the config, the
        token from the OS keyring. ``options`` (``retry``, ``timeouts``) let a quick
        probe such as a connection test give up sooner than a delivery would."""
        cfg = ctx.config
        if not cfg.server_url:
            raise NotConfigured(
                f"{ctx.home.config}: no platform server is configured - run 'practice-client setup'"
            )
        token = ctx.secrets.require(PLATFORM_TOKEN)
        options.setdefault("proxy", ProxyResolver(ProxyConfig.from_context(ctx)))
        return cls(
            cfg.server_url, token, ca_file=Path(cfg.ca_file) if cfg.ca_file else None,
            spki_pins=cfg.pins(), **options,
        )

    def close(self) -> None:
        self._session.close()

    @property
    def tus(self) -> Tus:
        """The upload protocol on this client's session (one per client: it remembers the
        server's tus extensions)."""
        if self._tus is None:
            from practice_client.core.tus import Tus

            self._tus = Tus(self)
        return self._tus

    def __enter__(self) -> PlatformClient:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # --- one HTTP exchange ---------------------------------------------------------------

    def _send(
        self, method: str, path: str, *, expect: tuple[int, ...], sent_bytes: int = 0,
        transient: tuple[int, ...] = (), max_bytes: int = MAX_ANSWER_BYTES, **kwargs: Any,
    ) -> requests.Response:
        """One request. Returns a response whose status is in ``expect``, its body read
        (at most ``max_bytes``: :class:`AnswerTooLarge`); raises :class:`_Transient` for
        what a retry may cure and NetworkError otherwise."""
        what = f"{method} {path}"
        try:
            response = self._session.request(
                method, self.base_url + path, timeout=self.timeouts.for_size(sent_bytes),
                allow_redirects=False, verify=True, stream=True, **kwargs,
            )
            expected = response.status_code in expect
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
            raise _Transient(f"{what}: TLS connection failed: {_describe(cause)}") from None
        except requests.exceptions.Timeout:
            raise _Transient(f"{what}: timed out") from None
        except (requests.exceptions.ConnectionError, requests.exceptions.ChunkedEncodingError) as exc:
            cause = _root_cause(exc)
            if isinstance(cause, ProxyAuthFailed):  # the same credentials will not do next time
                raise NetworkError(f"{what}: {_describe(cause)}") from None
            raise _Transient(f"{what}: connection failed: {_describe(cause)}") from None
        except urllib3.exceptions.ReadTimeoutError:
            raise _Transient(f"{what}: timed out") from None
        except urllib3.exceptions.HTTPError as exc:  # while the body was read
            raise _Transient(f"{what}: connection failed: {_describe(_root_cause(exc))}") from None
        except requests.exceptions.RequestException as exc:
            raise NetworkError(f"{what}: {_describe(_root_cause(exc))}") from None
        except _Cancelled:
            raise UploadCancelled(f"{what}: cancelled") from None
        except _SourceShrunk as exc:
            raise InputError(str(exc), "the file got shorter while it was being uploaded") from None
        status = response.status_code
        if status in expect:
            return response
        detail = _server_message(response)
        response.close()
        del response  # a traceback kept by the caller must not keep the connection open
        message = f"{what}: the platform answered {status}" + (f" ({detail})" if detail else "")
        if status >= 500 or status in transient or status in _ALWAYS_TRANSIENT:
            raise _Transient(message)
        if status == 401:
            raise NetworkError(f"{what}: the platform refused the token (401) - check the token")
        if 400 <= status < 500:
            raise PlatformRefused(message)
        raise NetworkError(message)

    def _wait(self, failures: int, cancel: threading.Event | None) -> None:
        delay = self.retry.delay(failures)
        if (cancel or threading.Event()).wait(delay):
            raise UploadCancelled("cancelled while waiting to retry")

    def _retrying(self, what: str, action: Callable[[], T]) -> T:
        """Run ``action`` until it succeeds, retrying transient failures (bounded)."""
        failures = 0
        while True:
            try:
                return action()
            except _Transient as exc:
                failures += 1
                if failures >= self.retry.attempts:
                    raise NetworkError(f"{exc} - gave up after {failures} attempts") from None
                log.info("%s: %s; retry %d of %d", what, exc, failures, self.retry.attempts - 1)
                self._wait(failures, None)

    # --- the API -------------------------------------------------------------------------

    def inbox(self, after: str | None) -> tuple[list[bytes], str | None]:
        """New request messages (raw RFC 5322 bytes) after ``after``, and the cursor to
        pass next time (unchanged when there is nothing new). The platform answers in
        pages: call again with the new cursor while messages keep coming."""
        params = {"after": after} if after else {}

        def fetch() -> tuple[list[bytes], str | None]:
            response = self._send("GET", "/v1/inbox", expect=(200,), params=params,
                                  max_bytes=MAX_INBOX_BYTES)
            try:
                body = response.json()
                messages = [base64.b64decode(m["raw"], validate=True) for m in body["messages"]]
                cursor = body.get("cursor")
            except (ValueError, KeyError, TypeError, binascii.Error):
                raise NetworkError("GET /v1/inbox: the platform sent a malformed answer") from None
            if cursor is not None and not isinstance(cursor, str):
                raise NetworkError("GET /v1/inbox: the platform sent a malformed cursor")
            return messages, cursor

        return self._retrying("inbox", fetch)

    def send_decision(self, request_id: str, decision: str, reason: str) -> None:
        """Tell the platform that a request is accepted or declined (idempotent)."""
        if decision not in ("accepted", "declined"):
            raise ValueError(f"decision must be 'accepted' or 'declined', not {decision!r}")
        path = f"/v1/requests/{self._id(request_id)}/decision"
        body = {"decision": decision, "reason": reason}
        self._retrying(
            f"decision {request_id}",
            lambda: self._send("POST", path, expect=(200, 201, 204), json=body),
        )

    def patient_key(self, fingerprint: str) -> str | None:
        """The server's copy of a patient key (to compare, never to trust); None if none."""
        fpr = fingerprint.upper()
        if not FINGERPRINT_RE.match(fpr):
            raise ValueError("not a 40-digit fingerprint")
        response = self._retrying(
            f"patient key {fpr}",
            lambda: self._send("GET", f"/v1/patients/{fpr}/key", expect=(200, 404)),
        )
        return None if response.status_code == 404 else response.text

    def register_practice_key(self, armored: str) -> None:
        """``PUT /v1/practice/key`` with the practice's ASCII-armored public key."""
        data = armored.encode("utf-8")
        self._retrying(
            "register practice key",
            lambda: self._send(
                "PUT", "/v1/practice/key", expect=(200, 201, 204), data=data,
                headers={"Content-Type": "application/pgp-keys"}, sent_bytes=len(data),
            ),
        )

    def send_audit_checkpoint(self, checkpoint: bytes, signature: bytes) -> bool:
        """``PUT /v1/practice/audit-checkpoint``: the signed head of the audit chain (see
        :mod:`practice_client.crypto.checkpoint`). The platform keeps the newest; sending
        the same again is a no-op. False: it refused it for an older one than it holds (409)."""
        body = {"checkpoint": checkpoint.decode("ascii"), "signature": signature.decode("ascii")}
        response = self._retrying(
            "audit checkpoint",
            lambda: self._send("PUT", AUDIT_CHECKPOINT_PATH, expect=(200, 201, 204, 409), json=body),
        )
        return response.status_code != 409

    def audit_checkpoint(self) -> tuple[bytes, bytes] | None:
        """The newest checkpoint the platform holds (checkpoint, signature), or None."""
        response = self._retrying(
            "audit checkpoint",
            lambda: self._send("GET", AUDIT_CHECKPOINT_PATH, expect=(200, 404), max_bytes=MAX_CHECKPOINT_BYTES),
        )
        if response.status_code == 404:
            return None
        try:
            body = json.loads(response.content)
            return body["checkpoint"].encode("ascii"), body["signature"].encode("ascii")
        except (ValueError, KeyError, TypeError, AttributeError, UnicodeEncodeError):
            raise NetworkError("GET /v1/practice/audit-checkpoint: the platform sent a malformed answer") from None

    def download(self, document_id: str, part: str = "document",
                 max_bytes: int = MAX_DOWNLOAD_BYTES) -> bytes:
        """The ciphertext of a delivered document (what the patient's app fetches), at most
        ``max_bytes``."""
        if part not in PARTS:
            raise ValueError(f"part must be one of {PARTS}")
        suffix = "" if part == "document" else "/manifest"
        path = f"/v1/documents/{self._id(document_id)}{suffix}"
        return self._retrying(
            f"download {document_id}",
            lambda: self._send("GET", path, expect=(200,), max_bytes=max_bytes).content,
        )

    @staticmethod
    def _id(value: str) -> str:
        if not valid_platform_id(value):
            raise ValueError(f"not a valid platform id: {value[:80]!r}")
        return quote(value, safe="")
