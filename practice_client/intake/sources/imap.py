"""An IMAP mailbox (over TLS) as a request source, through ``imapclient``.

Each message is fetched with ``BODY.PEEK[]`` (the server's \\Seen flag is left
alone), handed to the inbox - which stores it durably - and only *then* moved to
the processed folder on the server. A crash between fetch and store leaves the
message in the mailbox for the next poll; a crash between store and move makes
the next poll store it again (de-duplicated by hash) and move it. Nothing is lost,
nothing is recorded twice.

TLS always (IMAPS, TLS >= 1.2, certificate verification on; an extra CA file for
a practice's own mail server). The password comes from the OS keyring. IDLE
(RFC 2177) is used where the server offers it (:meth:`ImapSource.wait_for_mail`);
otherwise the caller polls. Every connection is made by :func:`connect`, which
takes the function that opens the TCP connection (a proxy tunnel, for instance).
Built from the config by :func:`practice_client.service.sources.imap_source`.
"""

from __future__ import annotations

import contextlib
import imaplib
import logging
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError, LoginError
from imapclient.tls import IMAP4_TLS

from practice_client.core.errors import NetworkError
from practice_client.intake.sources import Deliver, Settle, Stop, Wake
from practice_client.platform.proxy import ProxyResolver, open_connection
from practice_client.platform.tls import tls_context

log = logging.getLogger(__name__)

MAX_FETCH_BYTES = 25 * 1024 * 1024  # larger messages stay on the server (logged), never half-read
TIMEOUT_SECONDS = 30.0
IDLE_SECONDS = 20 * 60  # RFC 2177: re-issue IDLE at least every 29 minutes
IDLE_SLICE_SECONDS = 1.0  # how soon a stop request ends an IDLE wait
RECONNECT_SECONDS = 60.0
DELETED = rb"\Deleted"

SocketFactory = Callable[[str, int, float], socket.socket]
"""Opens a connected TCP socket to (host, port) within a timeout; TLS is added on top."""


def direct_socket(host: str, port: int, timeout: float) -> socket.socket:
    return socket.create_connection((host, port), timeout=timeout)


def proxied_socket(resolver: ProxyResolver) -> SocketFactory:
    """TCP along the practice's proxy route (system, PAC or explicit; a CONNECT tunnel
    where a proxy is in the way), as the platform API goes."""
    return lambda host, port, timeout: open_connection(host, port, timeout, resolver)


class _Transport(IMAP4_TLS):  # type: ignore[misc]  # imapclient ships no type information
    """imapclient's TLS transport with the TCP connection made by a socket factory.

    Overrides ``_create_socket`` exactly as imapclient's own ``IMAP4_TLS`` does; the
    TLS layer (and its certificate check) is the same whichever way the socket came."""

    def __init__(self, host: str, port: int, ssl_context: ssl.SSLContext, timeout: float | None,
                 socket_factory: SocketFactory) -> None:
        self._socket_factory = socket_factory
        super().__init__(host, port, ssl_context, timeout)

    def _create_socket(self, timeout: float | None = None) -> socket.socket:
        limit = timeout if timeout is not None else self._timeout
        sock = self._socket_factory(self.host, self.port, TIMEOUT_SECONDS if limit is None else limit)
        try:
            context: ssl.SSLContext = self.ssl_context
            return context.wrap_socket(sock, server_hostname=self.host)
        except BaseException:
            sock.close()
            raise


class _Client(IMAPClient):  # type: ignore[misc]
    """IMAPClient whose transport is :class:`_Transport` (imapclient has no public hook)."""

    def __init__(self, host: str, port: int, ssl_context: ssl.SSLContext, timeout: float,
                 socket_factory: SocketFactory) -> None:
        self._socket_factory = socket_factory
        super().__init__(host, port, ssl=True, ssl_context=ssl_context, timeout=timeout)

    def _create_IMAP4(self) -> imaplib.IMAP4:  # noqa: N802 - imapclient's name
        assert self.ssl_context is not None
        return _Transport(self.host, self.port, self.ssl_context, self._timeout.connect, self._socket_factory)


def connect(host: str, port: int, ssl_context: ssl.SSLContext, *, timeout: float = TIMEOUT_SECONDS,
            socket_factory: SocketFactory = direct_socket) -> IMAPClient:
    """The one place an IMAP connection is made: TCP by ``socket_factory``, then TLS
    with ``ssl_context``. Raises NetworkError with a one-line reason."""
    try:
        return _Client(host, port, ssl_context, timeout, socket_factory)
    except (OSError, imaplib.IMAP4.error) as exc:
        raise NetworkError(f"IMAP {host}:{port}: {_describe(exc)}") from None


class ImapSource:
    """One mailbox folder; messages go to ``processed_folder`` once stored."""

    talks_to_platform = False

    def __init__(
        self,
        *,
        host: str,
        port: int,
        user: str,
        password: str,
        folder: str = "INBOX",
        processed_folder: str = "Verarbeitet",
        ca_file: str = "",
        deliver: Deliver,
        settle: Settle,
        socket_factory: SocketFactory = direct_socket,
    ) -> None:
        self.host, self.port, self.user = host, port, user
        self._password = password
        self.folder, self.processed_folder = folder, processed_folder
        self.ca_file = ca_file
        self._deliver = deliver
        self._settle = settle
        self._socket_factory = socket_factory

    # -- connection ---------------------------------------------------------------------

    @contextlib.contextmanager
    def _session(self) -> Iterator[IMAPClient]:
        conn = connect(self.host, self.port, tls_context(Path(self.ca_file) if self.ca_file else None),
                       socket_factory=self._socket_factory)
        try:
            try:
                conn.login(self.user, self._password)
                conn.select_folder(self.folder)
            except LoginError:
                raise NetworkError(f"IMAP {self.host}: login refused (user or password)") from None
            except IMAPClientError as exc:
                raise NetworkError(f"IMAP {self.host}: login or folder refused ({_describe(exc)})") from None
            yield conn
        except (OSError, imaplib.IMAP4.abort) as exc:
            raise NetworkError(f"IMAP {self.host}:{self.port}: {_describe(exc)}") from None
        except IMAPClientError as exc:
            raise NetworkError(f"IMAP {self.host}: {_describe(exc)}") from None
        finally:
            with contextlib.suppress(Exception):
                conn.logout()

    def check_connection(self) -> int:
        """Log in, open the folder, make sure the processed folder exists; returns the
        number of messages waiting. Raises NetworkError with the reason otherwise."""
        with self._session() as conn:
            self._ensure_folder(conn, self.processed_folder)
            return len(conn.search(["UNDELETED"]))

    # -- polling ------------------------------------------------------------------------

    def poll_once(self) -> int:
        """Store every message of the folder, moving each to the processed folder after."""
        recorded = 0
        with self._session() as conn:
            self._ensure_folder(conn, self.processed_folder)
            for uid in conn.search(["UNDELETED"]):
                raw = self._fetch(conn, uid)
                if raw is None:
                    continue
                recorded += self._deliver(raw, "imap")  # durable when this returns
                self._move(conn, uid)
        return recorded + self._settle()

    def report(self) -> int:
        return 0  # nothing goes back to a mailbox

    @staticmethod
    def _fetch(conn: IMAPClient, uid: int) -> bytes | None:
        size = conn.fetch([uid], ["RFC822.SIZE"]).get(uid, {}).get(b"RFC822.SIZE")
        if isinstance(size, int) and size > MAX_FETCH_BYTES:
            log.warning("IMAP message uid %s is too large for a request; left on the server", uid)
            return None
        body = conn.fetch([uid], ["BODY.PEEK[]"]).get(uid, {}).get(b"BODY[]")
        return body if isinstance(body, bytes) else None  # None: vanished meanwhile (another client moved it)

    @staticmethod
    def _ensure_folder(conn: IMAPClient, folder: str) -> None:
        if conn.folder_exists(folder):
            return
        try:
            conn.create_folder(folder)
        except IMAPClientError as exc:
            raise NetworkError(f"IMAP: the processed folder could not be created ({_describe(exc)})") from None

    def _move(self, conn: IMAPClient, uid: int) -> None:
        if conn.has_capability("MOVE"):
            conn.move([uid], self.processed_folder)
            return
        conn.copy([uid], self.processed_folder)
        conn.add_flags([uid], [DELETED], silent=True)
        # Only UID EXPUNGE removes just this message. A plain EXPUNGE would also erase every
        # mail another client (the practice's mail program) marked deleted: without UIDPLUS
        # ours stays flagged - skipped by the UNDELETED search - until a mail client expunges.
        if conn.has_capability("UIDPLUS"):
            conn.uid_expunge([uid])

    # -- IDLE ---------------------------------------------------------------------------

    def start_watching(self, wake: Wake) -> Stop:
        """Call ``wake`` whenever the server reports new mail (IDLE, in a daemon thread);
        returns a stop function. The agent passes its ``poll_now``; polling remains the
        safety net (and the only way with servers without IDLE)."""
        stop = threading.Event()

        def run() -> None:
            while not stop.is_set():
                try:
                    if self.wait_for_mail(IDLE_SECONDS, stop):
                        wake()
                except NetworkError as exc:
                    log.info("IMAP IDLE: %s; reconnecting later", exc)
                    stop.wait(RECONNECT_SECONDS)

        thread = threading.Thread(target=run, name="imap-idle", daemon=True)
        thread.start()
        return stop.set

    def wait_for_mail(self, timeout: float, stop: threading.Event | None = None) -> bool:
        """Block until the server reports new mail (IDLE), ``timeout`` passes or ``stop`` is set.

        Returns True on news. Without IDLE support it just waits (the caller polls)."""
        stop = stop or threading.Event()
        with self._session() as conn:
            if not conn.has_capability("IDLE"):
                stop.wait(timeout)
                return False
            conn.idle()
            news = False
            deadline = time.monotonic() + timeout
            try:
                while not (news or stop.is_set()):
                    left = deadline - time.monotonic()
                    if left <= 0:
                        break
                    news = any(_is_news(r) for r in conn.idle_check(timeout=min(left, IDLE_SLICE_SECONDS)))
            finally:
                conn.idle_done()
            return news


def _is_news(response: Any) -> bool:
    """An untagged ``* N EXISTS`` / ``* N RECENT`` (parsed by imapclient as ``(N, b"EXISTS")``)."""
    return isinstance(response, tuple) and len(response) >= 2 and response[1] in (b"EXISTS", b"RECENT")


def _describe(exc: BaseException) -> str:
    if isinstance(exc, ssl.SSLCertVerificationError):
        return "the server's certificate is not trusted"
    if isinstance(exc, ssl.SSLError):
        return f"TLS failed ({exc.reason or type(exc).__name__})"
    if isinstance(exc, (TimeoutError, socket.timeout)):
        return "timed out"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, imaplib.IMAP4.error):
        text = str(exc)
        return text[:120] if text else type(exc).__name__
    return type(exc).__name__
