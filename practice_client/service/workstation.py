"""Making a home a workstation of the practice service: pairing with a one-time code
(``practice-client connect``, the app's wizard) and, on the service's own machine, a code
asked for locally (a single-PC practice: the admin pairs the app in one step)."""

from __future__ import annotations

import socket
from pathlib import Path

from practice_client.core.config import read_user_config
from practice_client.core.errors import PracticeClientError, StateError
from practice_client.core.paths import Home
from practice_client.core.secrets import SecretStore
from practice_client.core.text import Text
from practice_client.service.client import ServiceClient
from practice_client.service.connection import Connection, load_connection, parse_address, save_connection
from practice_client.service.files import DEFAULT_PORT, ServiceFiles, default_service_home


def connect_workstation(home: Home, secrets: SecretStore, address: str, code: str, os_user: str) -> Connection:
    """Pair ``home`` with the service at ``address`` (SPAKE2 with ``code``), keep the
    credential in ``secrets`` (the user's keyring) and check that it works."""
    from practice_client.service.pairing import pair_with_service

    host, port = parse_address(address, DEFAULT_PORT)
    if load_connection(home) is None and read_user_config(home.config).get("practice_key_fingerprint"):
        raise StateError(Text(
            f"{home.root}: dieses Verzeichnis hat eine eigene Praxis - erst in den Dienst übernehmen "
            "(practice-client service adopt) oder ein anderes Verzeichnis nehmen",
            f"{home.root}: this home holds a practice of its own - adopt it into the "
            "service first (practice-client service adopt) or use another home"))
    paired = pair_with_service(host, port, code.strip(), {"hostname": socket.gethostname()[:64], "os_user": os_user})
    connection = Connection(host, port, paired.pin, paired.cert_pem, paired.workstation_id, paired.name, paired.role)
    save_connection(home, secrets, connection, paired.credential)
    client = ServiceClient(connection, paired.credential)
    try:
        client.me()  # the new credential works
    finally:
        client.close()
    return connection


def local_service() -> tuple[str, Path] | None:
    """The address of a practice service running on this machine, with its home, when this
    account may administer it (it can read the service's control token); else None."""
    home = default_service_home()
    files = ServiceFiles(home)
    try:
        endpoint = files.read_endpoint()
        token = Path(str(endpoint.get("control_token", files.control_token)))
        if not token.is_file() or not token.read_bytes():
            return None
    except (PracticeClientError, OSError):
        return None
    return f"127.0.0.1:{int(endpoint.get('port', DEFAULT_PORT))}", home.root


def local_code(service_home: Path, name: str) -> str:
    """A one-time code from the local service for an admin workstation (its control API)."""
    from practice_client.service.control import control

    answer = control(Home(service_home), "POST", "/v1/control/pair", {"role": "admin", "name": name})
    return str(answer["code"])
