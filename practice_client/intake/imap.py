"""An IMAP mailbox (over TLS) as a request source.

Each message is fetched with ``BODY.PEEK[]`` (the server's \\Seen flag is left
alone), handed to the inbox - which stores it durably - and only *then* moved to
the processed folder on the server. A crash between fetch and store leaves the
message in the mailbox for the next poll; a crash between store and move makes
the next poll store it again (de-duplicated by hash) and move it. Nothing is lost,
nothing is recorded twice.

TLS always (IMAPS, TLS >= 1.2, certificate verification on; an extra CA file for
a practice's own mail server). The password comes from the OS keyring. IDLE is
used where the server offers it (:meth:`ImapSource.wait_for_mail`); otherwise the
caller polls.
"""

from __future__ import annotations

import contextlib
import imaplib
import logging
import re
import socket
import ssl
import threading
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from practice_client.core.errors import NetworkError, NotConfigured
from practice_client.core.secrets import IMAP_PASSWORD

if TYPE_CHECKING:
    from practice_client.context import Context
    from practice_client.intake.inbox import Inbox

log = logging.getLogger(__name__)

MAX_FETCH_BYTES = 25 * 1024 * 1024  # larger messages stay on the server (logged), never half-read
TIMEOUT_SECONDS = 30.0
_SIZE_RE = re.compile(rb"RFC822\.SIZE (\d+)")

Deliver = Callable[[bytes, str], int]


def _quote(mailbox: str) -> str:
    return '"' + mailbox.replace("\\", "\\\\").replace('"', '\\"') + '"'


class ImapSource:
    """One mailbox folder; messages go to ``processed_folder`` once stored."""

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
        after_store: Callable[[], int] | None = None,
    ) -> None:
        self.host, self.port, self.user = host, port, user
        self._password = password
        self.folder, self.processed_folder = folder, processed_folder
        self.ca_file = ca_file
        self._deliver = deliver
        self._after_store = after_store

    @classmethod
    def from_context(cls, ctx: Context, inbox: Inbox) -> ImapSource:
        cfg = ctx.config
        if not cfg.imap_host or not cfg.imap_user:
            raise NotConfigured(f"{ctx.home.config}: IMAP host or user is not configured")
        return cls(
            host=cfg.imap_host, port=cfg.imap_port, user=cfg.imap_user,
            password=ctx.secrets.require(IMAP_PASSWORD), folder=cfg.imap_folder,
            processed_folder=cfg.imap_processed_folder, ca_file=cfg.imap_ca_file,
            deliver=inbox.receive, after_store=inbox.process_pending,
        )

    # -- connection ---------------------------------------------------------------------

    def _ssl_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=self.ca_file or None)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        return context

    @contextlib.contextmanager
    def _session(self) -> Iterator[imaplib.IMAP4_SSL]:
        try:
            conn = imaplib.IMAP4_SSL(self.host, self.port, ssl_context=self._ssl_context(), timeout=TIMEOUT_SECONDS)
        except (OSError, imaplib.IMAP4.error) as exc:
            raise NetworkError(f"IMAP {self.host}:{self.port}: {_describe(exc)}") from None
        try:
            try:
                conn.login(self.user, self._password)
                # imaplib keeps the pre-login list; servers announce MOVE, UIDPLUS... after login
                caps = self._check(conn.capability(), "CAPABILITY")
                conn.capabilities = tuple(_text(caps[-1]).upper().split())
                self._check(conn.select(_quote(self.folder)), "SELECT")
            except imaplib.IMAP4.error as exc:
                raise NetworkError(f"IMAP {self.host}: login or folder refused ({_describe(exc)})") from None
            yield conn
        except (OSError, imaplib.IMAP4.abort) as exc:
            raise NetworkError(f"IMAP {self.host}:{self.port}: {_describe(exc)}") from None
        finally:
            with contextlib.suppress(Exception):
                conn.logout()

    @staticmethod
    def _check(result: tuple[str, Any], what: str) -> list[Any]:
        typ, data = result
        if typ != "OK":
            raise NetworkError(f"IMAP {what} failed: {typ}")
        return list(data)

    def check_connection(self) -> int:
        """Log in, open the folder, make sure the processed folder exists; returns the
        number of messages waiting. Raises NetworkError with the reason otherwise."""
        with self._session() as conn:
            self._ensure_folder(conn, self.processed_folder)
            data = self._check(conn.uid("SEARCH", "UNDELETED"), "SEARCH")
            return len(_text(data[0] if data else b"").split())

    # -- polling ------------------------------------------------------------------------

    def poll_once(self) -> int:
        """Store every message of the folder, moving each to the processed folder after."""
        recorded = 0
        with self._session() as conn:
            self._ensure_folder(conn, self.processed_folder)
            data = self._check(conn.uid("SEARCH", "UNDELETED"), "SEARCH")
            for uid in _text(data[0] if data else b"").split():
                raw = self._fetch(conn, uid)
                if raw is None:
                    continue
                recorded += self._deliver(raw, "imap")  # durable when this returns
                self._move(conn, uid)
        if self._after_store is not None:
            recorded += self._after_store()
        return recorded

    def _fetch(self, conn: imaplib.IMAP4_SSL, uid: str) -> bytes | None:
        sizes = self._check(conn.uid("FETCH", uid, "(RFC822.SIZE)"), "FETCH")
        match = _SIZE_RE.search(b" ".join(s if isinstance(s, bytes) else b"" for s in sizes))
        if match and int(match.group(1)) > MAX_FETCH_BYTES:
            log.warning("IMAP message uid %s is too large for a request; left on the server", uid)
            return None
        data = self._check(conn.uid("FETCH", uid, "(BODY.PEEK[])"), "FETCH")
        for item in data:
            if isinstance(item, tuple) and len(item) == 2 and isinstance(item[1], bytes):
                return item[1]
        return None  # vanished meanwhile (another client moved it)

    @staticmethod
    def _ensure_folder(conn: imaplib.IMAP4_SSL, folder: str) -> None:
        typ, data = conn.list('""', _quote(folder))
        if typ == "OK" and any(item for item in data if item):
            return
        typ, _ = conn.create(_quote(folder))
        if typ != "OK":
            raise NetworkError(f"IMAP: the processed folder could not be created ({typ})")

    def _move(self, conn: imaplib.IMAP4_SSL, uid: str) -> None:
        target = _quote(self.processed_folder)
        if "MOVE" in conn.capabilities:
            self._check(conn.uid("MOVE", uid, target), "MOVE")
            return
        self._check(conn.uid("COPY", uid, target), "COPY")
        self._check(conn.uid("STORE", uid, "+FLAGS.SILENT", r"(\Deleted)"), "STORE")
        # Only UID EXPUNGE removes just this message. A plain EXPUNGE would also erase every
        # mail another client (the practice's mail program) marked deleted: without UIDPLUS
        # ours stays flagged - skipped by the UNDELETED search - until a mail client expunges.
        if "UIDPLUS" in conn.capabilities:
            self._check(conn.uid("EXPUNGE", uid), "EXPUNGE")

    # -- IDLE ---------------------------------------------------------------------------

    def start_watching(self, wake: Callable[[], None]) -> Callable[[], None]:
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
        """Block until the server reports new mail (IDLE, RFC 2177) or ``timeout`` passes.

        Returns True on news. Without IDLE support it just waits (the caller polls)."""
        with self._session() as conn:
            if "IDLE" not in conn.capabilities:
                (stop or threading.Event()).wait(timeout)
                return False
            tag: bytes = conn._new_tag()  # imaplib < 3.14 has no idle()
            conn.send(tag + b" IDLE\r\n")
            if not conn.readline().startswith(b"+"):
                raise NetworkError("IMAP: the server refused IDLE")
            conn.sock.settimeout(timeout)
            news = False
            try:
                while True:
                    line = conn.readline()
                    if not line:
                        break
                    if re.match(rb"\* \d+ (EXISTS|RECENT)", line):
                        news = True
                        break
            except TimeoutError:
                pass
            conn.sock.settimeout(TIMEOUT_SECONDS)
            conn.send(b"DONE\r\n")
            while True:
                line = conn.readline()
                if not line or line.startswith(tag):
                    break
            return news


IDLE_SECONDS = 20 * 60  # RFC 2177: re-issue IDLE at least every 29 minutes
RECONNECT_SECONDS = 60.0


def _text(value: object) -> str:
    """imaplib answers with bytes, str or None depending on the item."""
    if isinstance(value, bytes):
        return value.decode("ascii", "replace")
    return value if isinstance(value, str) else ""


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
