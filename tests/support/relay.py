"""Men in the middle on loopback, for the attacks and the lost-answer tests.

:class:`TlsMitm` terminates TLS with a certificate of its own and relays the plain bytes
to the real service over a second TLS connection (what an attacker on the practice
network would do); :class:`TcpRelay` passes the bytes as they are and can hold back the
service's answers, then cut every connection (a network that loses the answer);
:class:`PlatformRecorder` is the testbed platform as its curious operator sees it: TLS ends
with the platform's own certificate and every plain byte a client sends is kept.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import tempfile
import threading
from pathlib import Path

from practice_client.service.tls import create_identity
from practice_client.testbed.platform import TestbedPlatform


class _Relay:
    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self.listener.getsockname()[1])
        self.client_bytes = 0
        self.hold = threading.Event()
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def wrap_client(self, sock: socket.socket) -> socket.socket:
        return sock

    def connect_target(self) -> socket.socket:
        return socket.create_connection(("127.0.0.1", self.target_port))

    def _accept(self) -> None:
        while True:
            try:
                sock, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(sock,), daemon=True).start()

    def _serve(self, sock: socket.socket) -> None:
        try:
            client = self.wrap_client(sock)
            target = self.connect_target()
        except (OSError, ssl.SSLError):
            sock.close()
            return
        with self._lock:
            self._sockets += [client, target]
        upstream = threading.Thread(target=self._pipe, args=(client, target, True), daemon=True)
        upstream.start()
        self._pipe(target, client, False)
        upstream.join()
        # closed only once neither direction uses them: closing a TLS socket while another
        # thread sends on it crashes the interpreter (OpenSSL's object freed under it)
        for s in (client, target):
            with contextlib.suppress(OSError):
                s.close()

    def _pipe(self, source: socket.socket, sink: socket.socket, from_client: bool) -> None:
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                if from_client:
                    self.observe(source, data)
                elif self.hold.is_set():
                    continue  # the answer is lost on the way
                sink.sendall(data)
        except (OSError, ssl.SSLError):
            pass
        finally:
            _hang_up(source, sink)

    def observe(self, source: socket.socket, data: bytes) -> None:
        """Bytes a client sent on the connection ``source``: counted (a recorder keeps them)."""
        self.client_bytes += len(data)

    def cut(self) -> None:
        """Close every relayed connection (the client sees the connection drop)."""
        with self._lock:
            sockets, self._sockets = self._sockets, []
        _hang_up(*sockets)

    def close(self) -> None:
        self.listener.close()
        self.cut()


def _hang_up(*sockets: socket.socket) -> None:
    """End the connections at the socket level (both directions' threads wake up and
    stop); TLS state is left alone - the thread that serves them closes them."""
    for s in sockets:
        with contextlib.suppress(OSError):
            socket.socket.shutdown(s, socket.SHUT_RDWR)


class TcpRelay(_Relay):
    """Bytes as they are: TLS runs end to end through it (the pin still matches)."""


class TlsMitm(_Relay):
    """An attacker's TLS endpoint with its own certificate in front of the real service."""

    def __init__(self, target_port: int) -> None:
        cert, key = create_identity()
        folder = Path(tempfile.mkdtemp(prefix="pcmitm"))
        (folder / "c.pem").write_bytes(cert)
        (folder / "k.pem").write_bytes(key)
        self.server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.server_context.load_cert_chain(folder / "c.pem", folder / "k.pem")
        self.client_context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        self.client_context.check_hostname = False
        self.client_context.verify_mode = ssl.CERT_NONE
        super().__init__(target_port)

    def wrap_client(self, sock: socket.socket) -> socket.socket:
        return self.server_context.wrap_socket(sock, server_side=True)

    def connect_target(self) -> socket.socket:
        return self.client_context.wrap_socket(socket.create_connection(("127.0.0.1", self.target_port)))


class PlatformRecorder(_Relay):
    """What the platform receives, in the clear: it terminates TLS with the testbed
    platform's own certificate and key (so the client's CA check and any SPKI pin pass -
    this *is* the platform, honest but curious), keeps every byte each connection's client
    sent after decryption (request lines, URLs, headers, bodies), and passes the requests on
    to the platform over TLS. Point the client's ``server_url`` at :attr:`url`."""

    def __init__(self, platform: TestbedPlatform) -> None:
        self.server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.server_context.load_cert_chain(platform.tls.cert_file, platform.tls.key_file)
        self.client_context = ssl.create_default_context(cafile=str(platform.ca_file))
        self._streams: dict[int, bytearray] = {}
        self._record_lock = threading.Lock()
        super().__init__(platform.port)

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def wrap_client(self, sock: socket.socket) -> socket.socket:
        return self.server_context.wrap_socket(sock, server_side=True)

    def connect_target(self) -> socket.socket:
        return self.client_context.wrap_socket(socket.create_connection(("127.0.0.1", self.target_port)),
                                               server_hostname="127.0.0.1")

    def observe(self, source: socket.socket, data: bytes) -> None:
        super().observe(source, data)
        with self._record_lock:
            self._streams.setdefault(id(source), bytearray()).extend(data)

    def received(self) -> list[bytes]:
        """Each connection's plain bytes from the client, whole (a string split across two
        reads is still found)."""
        with self._record_lock:
            return [bytes(stream) for stream in self._streams.values()]
