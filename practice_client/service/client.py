"""A workstation's client of the practice service: pinned TLS, its credential, commands
sent once, and the change feed that reconnects by itself.

- Every connection verifies the pinned certificate (the only trust anchor) and compares
  its SPKI before a byte of a request is sent; a different certificate is refused, not
  retried (:class:`WrongService`).
- ``401`` means this workstation is no longer paired (:class:`NotPaired`).
- :meth:`ServiceClient.command` sends a staff action with its idempotency key and sends it
  again with the *same* key while the service cannot be reached (a restart, a lost
  answer): the service applies it once. If the service stays away past the deadline the
  caller gets :class:`ServiceUnavailable` with the key, and :meth:`ServiceClient.settle`
  later asks the service to close the key: the answer is the action's result if it was
  applied, or a definite "not applied" (a late copy is then refused too).
- :meth:`ServiceClient.follow` reads the feed until stopped, reconnecting with capped
  exponential backoff and jitter; it tells its caller ``online``/``offline`` on every change.
"""

from __future__ import annotations

import getpass
import hmac
import json
import logging
import os
import random
import secrets
import ssl
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import requests
import requests.adapters
import urllib3.connection
import urllib3.connectionpool
import urllib3.exceptions

from practice_client.core.errors import NetworkError, PracticeClientError, cannot_read
from practice_client.core.files import open_regular
from practice_client.core.text import Text
from practice_client.service.api import bearer
from practice_client.service.connection import Connection
from practice_client.service.tls import client_context, peer_pin
from practice_client.service.wire import answer_text

log = logging.getLogger(__name__)

MAX_ANSWER = 96 * 1024 * 1024
FEED_READ_TIMEOUT = 15.0  # three heartbeats


class ServiceUnavailable(NetworkError):
    """The practice service cannot be reached now. ``key``: a command that may be pending."""

    def __init__(self, message: Text | str, key: str = "") -> None:
        super().__init__(message)
        self.key = key


class WrongService(NetworkError):
    """The certificate is not the one pinned at pairing: another machine answers."""


class NotPaired(NetworkError):
    """The service does not know (or no longer accepts) this workstation's credential."""


class ServiceRefused(PracticeClientError):
    """The service refused the action (its rules, the role): nothing was applied."""


class _PinMismatch(Exception):
    pass


class _PinnedConnection(urllib3.connection.HTTPSConnection):
    pin = ""

    def connect(self) -> None:
        super().connect()
        if not hmac.compare_digest(peer_pin(self.sock), self.pin):  # type: ignore[arg-type]
            self.close()
            raise _PinMismatch()


class _PinnedAdapter(requests.adapters.HTTPAdapter):
    def __init__(self, connection: Connection) -> None:
        self._context = client_context(connection.cert_pem)
        conn_cls = type("PinnedConnection", (_PinnedConnection,), {"pin": connection.pin})
        self._pool = type("PinnedPool", (urllib3.connectionpool.HTTPSConnectionPool,), {"ConnectionCls": conn_cls})
        super().__init__(pool_connections=1, pool_maxsize=8)

    def init_poolmanager(self, connections: int, maxsize: int, block: bool = False, **kwargs: Any) -> None:
        kwargs["ssl_context"] = self._context
        kwargs["assert_hostname"] = False
        super().init_poolmanager(connections, maxsize, block, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"https": self._pool}

    def cert_verify(self, conn: Any, url: str, verify: Any, cert: Any) -> None:
        conn.cert_reqs = "CERT_REQUIRED"  # the context's anchor (the pinned certificate) alone
        conn.ca_certs = None
        conn.ca_cert_dir = None


@dataclass(frozen=True)
class Outcome:
    outcome: str
    result: Any
    error: Text | None
    replayed: bool

    @property
    def applied(self) -> bool:
        return self.outcome == "applied"


def _cause(exc: BaseException) -> BaseException:
    seen = set()
    while id(exc) not in seen:
        seen.add(id(exc))
        inner = exc.__cause__ or exc.__context__ or next((a for a in exc.args if isinstance(a, BaseException)), None)
        inner = getattr(exc, "reason", None) if isinstance(getattr(exc, "reason", None), BaseException) else inner
        if inner is None:
            break
        exc = inner
    return exc


class ServiceClient:
    """The service's API for one workstation. Thread-safe (requests' pool)."""

    def __init__(self, connection: Connection, credential: str, os_user: str | None = None,
                 timeout: float = 30.0) -> None:
        self.connection = connection
        self.base = f"https://{_host(connection.host)}:{connection.port}"
        self.timeout = timeout
        self._session = requests.Session()
        self._session.trust_env = False  # the practice network: no proxy, no CA bundles from the environment
        self._session.mount("https://", _PinnedAdapter(connection))
        self._session.headers.update({
            "Authorization": f"Bearer {bearer(connection.workstation_id, credential)}",
            "X-Practice-OS-User": os_user if os_user is not None else _os_user(),
            "User-Agent": "practice-client-workstation", "Accept-Encoding": "identity",
        })

    def close(self) -> None:
        self._session.close()

    # -- plumbing ------------------------------------------------------------------------------

    def _request(self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None,
                 stream: bool = False, timeout: float | None = None, content: BinaryIO | None = None,
                 ) -> requests.Response:
        """``body``: JSON; ``content``: an open file, streamed as it is (its headers in ``headers``)."""
        kind = {"Content-Type": "application/json"} if content is None else {}
        try:
            answer = self._session.request(
                method, self.base + path, data=content if content is not None else
                None if body is None else json.dumps(body).encode(),
                headers={**kind, **(headers or {})}, stream=stream,
                timeout=(5.0, timeout or self.timeout), allow_redirects=False,
            )
        except requests.RequestException as exc:
            if isinstance(_cause(exc), (_PinMismatch, ssl.SSLCertVerificationError)):
                raise WrongService(Text(
                    f"{self.connection.address}: das ist nicht der Praxis-Dienst, mit dem dieser Arbeitsplatz "
                    "gekoppelt wurde (sein Zertifikat ist ein anderes) - abgelehnt",
                    f"{self.connection.address}: this is not the practice service this workstation was paired "
                    "with (its certificate differs) - refused")) from None
            cause = type(_cause(exc)).__name__
            raise ServiceUnavailable(Text(
                f"{self.connection.address}: der Praxis-Dienst ist nicht erreichbar ({cause})",
                f"{self.connection.address}: the practice service cannot be reached ({cause})")) from None
        if answer.status_code == 401:
            message = _error(answer)
            answer.close()
            raise NotPaired(message or Text("dieser Arbeitsplatz ist nicht mit dem Praxis-Dienst gekoppelt",
                                            "this workstation is not paired with the practice service"))
        return answer

    def _json(self, answer: requests.Response) -> dict[str, Any]:
        try:
            data = answer.raw.read(MAX_ANSWER + 1, decode_content=False)
        except (OSError, requests.RequestException, urllib3.exceptions.HTTPError) as exc:
            raise ServiceUnavailable(Text(f"die Antwort des Praxis-Dienstes brach ab ({type(exc).__name__})",
                                          f"the practice service's answer broke off ({type(exc).__name__})")) from None
        if len(data) > MAX_ANSWER:
            raise NetworkError(Text("die Antwort des Praxis-Dienstes ist zu groß",
                                    "the practice service's answer is too large"))
        answer._content, answer._content_consumed = data, True  # so close() returns the connection to the pool
        answer.close()
        try:
            value = json.loads(data)
        except ValueError:
            raise NetworkError(Text(
                f"die Antwort des Praxis-Dienstes ist kein JSON (HTTP {answer.status_code})",
                f"the practice service's answer is not JSON (HTTP {answer.status_code})")) from None
        if not isinstance(value, dict):
            raise NetworkError(Text("die Antwort des Praxis-Dienstes ist kein JSON-Objekt",
                                    "the practice service's answer is not a JSON object"))
        if answer.status_code >= 500:
            raise ServiceUnavailable(answer_text(value) or Text(
                f"der Praxis-Dienst ist gescheitert ({answer.status_code})",
                f"the practice service failed ({answer.status_code})"))
        return value

    def get(self, path: str) -> dict[str, Any]:
        answer = self._request("GET", path, stream=True)
        value = self._json(answer)
        if answer.status_code != 200:
            raise ServiceRefused(answer_text(value) or f"HTTP {answer.status_code}")
        return value

    def post(self, path: str, body: Any) -> dict[str, Any]:
        answer = self._request("POST", path, body, stream=True)
        value = self._json(answer)
        if answer.status_code != 200:
            raise ServiceRefused(answer_text(value) or f"HTTP {answer.status_code}")
        return value

    # -- API ---------------------------------------------------------------------------------

    def me(self) -> dict[str, Any]:
        return self.get("/v1/me")

    def view(self, method: str, **args: Any) -> Any:
        return self.post(f"/v1/views/{method}", {"args": args})["value"]

    def command(self, name: str, args: dict[str, Any], key: str | None = None, deadline: float = 60.0,
                stop: threading.Event | None = None, on_retry: Callable[[Text], None] | None = None) -> Outcome:
        """Send a staff action once (see the module doc). Returns the service's outcome;
        :class:`ServiceRefused` when the service refused it (nothing applied);
        :class:`ServiceUnavailable` (with ``key``) when it stayed away until ``deadline``;
        ``on_retry(message)`` before each wait for the next try."""
        key = key or str(uuid.uuid4())
        stop = stop or threading.Event()
        end = time.monotonic() + deadline
        failures = 0
        while True:
            try:
                answer = self._request("POST", f"/v1/commands/{name}", {"args": args},
                                       headers={"Idempotency-Key": key}, stream=True)
                value = self._json(answer)
            except ServiceUnavailable as exc:
                failures += 1
                wait = min(end - time.monotonic(), backoff(failures))
                if wait <= 0:
                    raise ServiceUnavailable(exc.text, key) from None
                if on_retry is not None:
                    on_retry(exc.text)
                if stop.wait(wait):
                    raise ServiceUnavailable(exc.text, key) from None
                continue
            if answer.status_code in (200, 422):
                outcome = Outcome(str(value.get("outcome")), value.get("result"), answer_text(value),
                                  bool(value.get("replayed")))
                if not outcome.applied:
                    raise ServiceRefused(outcome.error or Text("der Praxis-Dienst hat die Aktion abgelehnt",
                                                               "the practice service refused the action"))
                return outcome
            raise ServiceRefused(answer_text(value) or f"HTTP {answer.status_code}")

    def stage(self, path: Path) -> str:
        """Stream a file staff picked to the service's staging folder (``PUT /v1/staged/<id>``,
        a new random id) for a later command naming it (``files.add``); the id.
        InputError naming the file when it cannot be read here; :class:`ServiceRefused`
        with the service's reason (too large, no room); :class:`ServiceUnavailable` when
        the upload broke off (the service keeps nothing of it)."""
        staged_id = secrets.token_hex(16)
        try:
            handle = open_regular(path)
        except OSError as exc:
            raise cannot_read(path, exc) from None
        with handle:
            size = os.fstat(handle.fileno()).st_size
            answer = self._request("PUT", f"/v1/staged/{staged_id}", content=handle, stream=True, headers={
                "Content-Type": "application/octet-stream", "Content-Length": str(size)})
            value = self._json(answer)
        if answer.status_code != 200:
            raise ServiceRefused(answer_text(value) or f"HTTP {answer.status_code}")
        return staged_id

    def settle(self, key: str) -> Outcome:
        """Close a key whose command got no answer: applied (its result) or, from now on,
        never applied (raises :class:`ServiceRefused` saying so)."""
        value = self.post(f"/v1/commands/{key}/settle", {})
        outcome = Outcome(str(value.get("outcome")), value.get("result"), answer_text(value), True)
        if not outcome.applied:
            raise ServiceRefused(outcome.error or Text("die Aktion wurde nicht ausgeführt",
                                                       "the action was not applied"))
        return outcome

    def events(self) -> Iterator[tuple[str, dict[str, Any]]]:
        """One connection's feed: (event, data) until it ends (raises on errors)."""
        answer = self._request("GET", "/v1/feed", stream=True, timeout=FEED_READ_TIMEOUT)
        if answer.status_code != 200:
            raise ServiceRefused(_error(answer) or f"HTTP {answer.status_code}")
        try:
            yield from parse_sse(answer.iter_content(chunk_size=None))
        except (requests.RequestException, OSError) as exc:
            cause = type(_cause(exc)).__name__
            raise ServiceUnavailable(Text(f"die Verbindung zum Praxis-Dienst brach ab ({cause})",
                                          f"the feed ended ({cause})")) from None
        finally:
            answer.close()

    def follow(self, on_event: Callable[[str, dict[str, Any]], None], on_state: Callable[[str, Text], None],
               stop: threading.Event) -> None:
        """Read the feed until ``stop``: ``on_state("online"|"offline"|"refused", message)``
        on every change of the connection, ``on_event`` for each event. Reconnects with
        capped backoff; a refused credential or a wrong certificate stops it for good."""
        failures, state = 0, ""
        while not stop.is_set():
            try:
                for name, data in self.events():
                    if state != "online":
                        state, failures = "online", 0
                        on_state("online", Text.same(""))
                    on_event(name, data)
                    if stop.is_set():
                        return
                raise ServiceUnavailable(Text("der Praxis-Dienst hat die Verbindung beendet",
                                              "the practice service closed the feed"))
            except (NotPaired, WrongService) as exc:
                on_state("refused", exc.text)
                return
            except (ServiceUnavailable, ServiceRefused, NetworkError) as exc:
                if state != "offline":
                    state = "offline"
                    on_state("offline", exc.text)
            failures += 1
            stop.wait(backoff(failures))


def backoff(failures: int, base: float = 0.2, cap: float = 5.0) -> float:
    ceiling = min(cap, base * 2.0 ** (failures - 1))
    return ceiling / 2 + random.uniform(0, ceiling / 2)  # noqa: S311 - jitter


def parse_sse(chunks: Iterator[bytes]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Server-sent events from a byte stream (``event:``/``data:`` lines, blank line ends one)."""
    buffer = b""
    name, data = "message", list[str]()
    for chunk in chunks:
        buffer += chunk
        while b"\n" in buffer:
            raw, buffer = buffer.split(b"\n", 1)
            line = raw.rstrip(b"\r").decode("utf-8", "replace")
            if not line:
                if data:
                    try:
                        value = json.loads("\n".join(data))
                    except ValueError:
                        value = {}
                    yield name, value if isinstance(value, dict) else {}
                name, data = "message", list[str]()
            elif line.startswith(":"):
                continue
            elif line.startswith("event:"):
                name = line[6:].strip()
            elif line.startswith("data:"):
                data.append(line[5:].strip())


def _error(answer: requests.Response) -> Text | None:
    try:
        value = json.loads(answer.raw.read(64 * 1024, decode_content=False))
    except (ValueError, AttributeError, OSError):
        return None
    return answer_text(value) if isinstance(value, dict) else None


def _host(host: str) -> str:
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


def _os_user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no user name in this environment
        return "?"
