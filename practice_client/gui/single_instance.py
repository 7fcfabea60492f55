"""One app per home: a second start hands over to the running one and exits.

The running instance listens on a QLocalServer named after the user and the
home's instance id; a second start connects, says "activate", and quits, and
the first brings its window to the front.
"""

from __future__ import annotations

import getpass
import hashlib
import logging

from PySide6.QtCore import QObject, Signal
from PySide6.QtNetwork import QLocalServer, QLocalSocket

log = logging.getLogger(__name__)

TIMEOUT_MS = 1000
MESSAGE = b"activate\n"


def server_name(instance_id: str) -> str:
    """Per user and home, short enough for a Unix socket path, no personal data."""
    digest = hashlib.sha256(f"{getpass.getuser()}:{instance_id}".encode()).hexdigest()[:16]
    return f"practice-client-{digest}"


class SingleInstance(QObject):
    activated = Signal()

    def __init__(self, instance_id: str, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.name = server_name(instance_id)
        self.server: QLocalServer | None = None

    def notify_running(self) -> bool:
        """True when another instance runs (it has been asked to come to the front)."""
        socket = QLocalSocket(self)
        try:
            socket.connectToServer(self.name)
            if not socket.waitForConnected(TIMEOUT_MS):
                return False
            socket.write(MESSAGE)
            socket.waitForBytesWritten(TIMEOUT_MS)
            socket.disconnectFromServer()
            if socket.state() != QLocalSocket.LocalSocketState.UnconnectedState:
                socket.waitForDisconnected(TIMEOUT_MS)
            return True
        finally:
            socket.abort()
            socket.deleteLater()

    def listen(self) -> bool:
        """Become the running instance (a stale socket of a crashed one is removed; a live
        one never is). False only when another instance answers on the name."""
        server = QLocalServer(self)
        server.setSocketOptions(QLocalServer.SocketOption.UserAccessOption)
        if not server.listen(self.name):
            if self.notify_running():  # not stale after all: another instance answers
                server.deleteLater()
                return False
            QLocalServer.removeServer(self.name)  # the socket file of a crashed instance
            if not server.listen(self.name):
                log.warning("single-instance guard unavailable: %s", server.errorString())
                server.deleteLater()
                return True  # run anyway; only a second start cannot hand over
        server.newConnection.connect(self._connection)
        self.server = server
        return True

    def _connection(self) -> None:
        if self.server is None:
            return
        while self.server.hasPendingConnections():
            socket = self.server.nextPendingConnection()
            socket.readyRead.connect(self._read)
            socket.disconnected.connect(socket.deleteLater)

    def _read(self) -> None:
        socket = self.sender()
        if isinstance(socket, QLocalSocket) and bytes(socket.readAll().data()).startswith(MESSAGE.strip()):
            self.activated.emit()

    def close(self) -> None:
        """Stop listening; connections end with the server (Qt owns and deletes them)."""
        server, self.server = self.server, None
        if server is not None:
            server.close()
            server.deleteLater()
