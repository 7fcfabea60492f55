"""The admin's control channel to the practice service on its own machine: loopback,
the service's certificate pinned, the control token only the service's account and
administrators can read (``service pair|unpair|workstations|status``, a local pairing
in the setup wizard).
"""

from __future__ import annotations

import http.client
import json
import ssl
from pathlib import Path
from typing import Any

from practice_client.core.errors import NetworkError, StateError
from practice_client.core.paths import Home
from practice_client.service.files import ServiceFiles
from practice_client.service.tls import client_context, peer_pin


def control(home: Home, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    """A control request to the service running from ``home`` (loopback, pinned, token)."""
    files = ServiceFiles(home)
    endpoint = files.read_endpoint()
    try:
        token = Path(str(endpoint.get("control_token", files.control_token))).read_text(encoding="ascii").strip()
        cert = files.cert.read_bytes()
    except OSError:
        raise StateError(f"{files.folder}: cannot read the service's control token or certificate "
                         "(run this as an administrator on the service's machine)") from None
    conn = http.client.HTTPSConnection("127.0.0.1", int(endpoint.get("port", 0)), timeout=30,
                                       context=client_context(cert))
    try:
        conn.connect()
        assert isinstance(conn.sock, ssl.SSLSocket)
        if peer_pin(conn.sock) != endpoint.get("pin"):
            raise StateError("the process on the service's port is not the practice service")
        conn.request(method, path, json.dumps(body or {}).encode(),
                     {"Authorization": f"Control {token}", "Content-Type": "application/json"})
        answer = conn.getresponse()
        value = json.loads(answer.read(1024 * 1024) or b"{}")
    except (OSError, http.client.HTTPException, ValueError) as exc:
        raise NetworkError(f"the practice service does not answer ({type(exc).__name__})") from None
    finally:
        conn.close()
    if answer.status != 200:
        raise StateError(str(value.get("error", f"HTTP {answer.status}")))
    return dict(value)
