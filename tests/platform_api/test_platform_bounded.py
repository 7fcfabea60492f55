"""A hostile platform cannot exhaust the client's memory: every answer is read with a cap.

The server here is real HTTPS on loopback (the testbed's CA and certificate) that answers
every request with an endless body - chunked, or with a Content-Length of 100 GiB, or
gzip that would unpack without end. The client must refuse it having read little more than
its cap; the server counts what it managed to send.
"""

from __future__ import annotations

import contextlib
import gzip
import socket
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from practice_client.core.errors import NetworkError
from practice_client.platform.api import MAX_INBOX_BYTES, PlatformClient
from practice_client.platform.http import MAX_ANSWER_BYTES, AnswerTooLarge, RetryPolicy
from practice_client.testbed.ca import ensure_ca
from tests.conftest import short_tmpdir

BLOCK = b"[" + b"0," * (512 * 1024) + b"0]"  # ~1 MiB of valid JSON-ish bytes
HARD_STOP = 8 * 1024**3  # the server gives up after this much (the test's own bound)


@dataclass
class HostileServer:
    """Answers every request with ``mode``'s endless body; counts the bytes it sent."""

    mode: str
    status: int = 200
    sent: int = 0
    done: threading.Event = field(default_factory=threading.Event)

    def serve(self, listener: socket.socket, context: ssl.SSLContext) -> None:
        while True:
            try:
                raw, _ = listener.accept()
            except OSError:
                return
            with contextlib.suppress(OSError, ssl.SSLError), context.wrap_socket(raw, server_side=True) as tls:
                head = b""
                while b"\r\n\r\n" not in head:
                    chunk = tls.recv(4096)
                    if not chunk:
                        break
                    head += chunk
                self._answer(tls)
            self.done.set()

    def _answer(self, tls: ssl.SSLSocket) -> None:
        status = f"HTTP/1.1 {self.status} X\r\nContent-Type: application/json\r\n"
        if self.mode == "chunked":
            tls.sendall(status.encode() + b"Transfer-Encoding: chunked\r\n\r\n")
            frame = f"{len(BLOCK):x}\r\n".encode() + BLOCK + b"\r\n"
            while self.sent < HARD_STOP:
                tls.sendall(frame)
                self.sent += len(BLOCK)
        elif self.mode == "length":
            tls.sendall(status.encode() + f"Content-Length: {100 * 1024**3}\r\n\r\n".encode())
            while self.sent < HARD_STOP:
                tls.sendall(BLOCK)
                self.sent += len(BLOCK)
        else:  # gzip: 10 MiB on the wire would unpack to 10 GiB
            bomb = gzip.compress(b"0" * (64 * 1024 * 1024), compresslevel=9)
            tls.sendall(status.encode() + b"Content-Encoding: gzip\r\n"
                        + f"Content-Length: {len(bomb)}\r\n\r\n".encode())
            tls.sendall(bomb)
            self.sent += len(bomb)


@contextlib.contextmanager
def hostile(mode: str, status: int = 200) -> Iterator[tuple[str, Path, HostileServer]]:
    data = short_tmpdir("pch")
    files = ensure_ca(data)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(files.cert_file, files.key_file)
    server = HostileServer(mode, status)
    listener = socket.create_server(("127.0.0.1", 0))
    threading.Thread(target=server.serve, args=(listener, context), daemon=True).start()
    try:
        yield f"https://127.0.0.1:{listener.getsockname()[1]}", files.ca_file, server
    finally:
        listener.close()


def client(url: str, ca: Path) -> PlatformClient:
    return PlatformClient(url, "token-123456", ca_file=ca, retry=RetryPolicy(attempts=1))


@pytest.mark.parametrize("mode", ["chunked", "length"])
def test_an_endless_inbox_answer_is_refused_after_the_cap(mode: str) -> None:
    with hostile(mode) as (url, ca, server), client(url, ca) as platform:
        with pytest.raises(AnswerTooLarge, match=f"larger than {MAX_INBOX_BYTES} bytes") as err:
            platform.inbox(None)
        assert "\n" not in str(err.value)
        platform.close()
        assert server.done.wait(30)
    if mode == "length":  # refused by its header: hardly a byte of the body was taken
        assert server.sent < 64 * 1024 * 1024
    else:  # read up to the cap, then the connection is dropped (socket buffers aside)
        assert MAX_INBOX_BYTES <= server.sent < MAX_INBOX_BYTES + 32 * 1024 * 1024


def test_a_huge_patient_key_answer_is_refused_at_one_mib() -> None:
    with hostile("chunked") as (url, ca, server), client(url, ca) as platform:
        with pytest.raises(AnswerTooLarge, match=f"larger than {MAX_ANSWER_BYTES} bytes"):
            platform.patient_key("A" * 40)
        platform.close()
        assert server.done.wait(30)
    assert server.sent < MAX_ANSWER_BYTES + 32 * 1024 * 1024


def test_a_huge_error_body_is_not_read_either() -> None:
    with hostile("chunked", status=400) as (url, ca, server), client(url, ca) as platform:
        with pytest.raises(NetworkError, match="answered 400"):
            platform.send_decision("req-00000001", "accepted", "")
        platform.close()
        assert server.done.wait(30)
    assert server.sent < 32 * 1024 * 1024


def test_a_compressed_answer_is_refused_before_it_is_unpacked() -> None:
    with hostile("gzip") as (url, ca, _server), client(url, ca) as platform, \
            pytest.raises(NetworkError, match="compressed answer"):
        platform.inbox(None)


def test_a_download_gets_the_callers_limit() -> None:
    with hostile("chunked") as (url, ca, server), client(url, ca) as platform:
        with pytest.raises(AnswerTooLarge, match="larger than 4194304 bytes"):
            platform.download("doc-00000001", max_bytes=4 * 1024 * 1024)
        platform.close()
        assert server.done.wait(30)
    assert server.sent < 4 * 1024 * 1024 + 32 * 1024 * 1024
