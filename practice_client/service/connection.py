"""A workstation's tie to its practice service: where it is, the certificate it pinned at
pairing, and its credential (in the workstation user's OS keyring, never in the file).

A home with ``service-connection.json`` is a *workstation home*: the GUI and the command
line work through the service, and the home holds no practice data of its own.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from practice_client.core.atomic import atomic_write
from practice_client.core.errors import InputError, NotConfigured
from practice_client.core.paths import Home
from practice_client.core.secrets import SecretStore

SERVICE_CREDENTIAL = "service-credential"  # the keyring entry


@dataclass(frozen=True)
class Connection:
    host: str
    port: int
    pin: str
    cert_pem: bytes
    workstation_id: str
    name: str
    role: str

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"


def parse_address(value: str, default_port: int, any_port: bool = False) -> tuple[str, int]:
    """``host``, ``host:port`` or ``[v6]:port`` (``any_port``: port 0, to listen on a free one)."""
    text = value.strip().removeprefix("https://").rstrip("/")
    host, port = text, default_port
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        if rest.startswith(":"):
            port = _port(rest[1:], value, any_port)
    elif text.count(":") == 1:
        host, _, number = text.partition(":")
        port = _port(number, value, any_port)
    if not host:
        raise InputError(value or "ADDRESS", "not an address of the practice service (host or host:port)")
    return host, port


def _port(text: str, value: str, any_port: bool = False) -> int:
    if not text.isdigit() or not (0 if any_port else 1) <= int(text) < 65536:
        raise InputError(value, "not a port number")
    return int(text)


def load_connection(home: Home) -> Connection | None:
    path = home.service_connection
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return Connection(str(data["host"]), int(data["port"]), str(data["pin"]), str(data["cert_pem"]).encode(),
                          str(data["workstation_id"]), str(data["name"]), str(data["role"]))
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError):
        raise InputError(path, "damaged connection to the practice service (connect again)") from None


def save_connection(home: Home, secrets: SecretStore, connection: Connection, credential: str) -> None:
    """The credential first (keyring), then the file that makes this a workstation home."""
    secrets.set(SERVICE_CREDENTIAL, credential)
    data = {"host": connection.host, "port": connection.port, "pin": connection.pin,
            "cert_pem": connection.cert_pem.decode("ascii"), "workstation_id": connection.workstation_id,
            "name": connection.name, "role": connection.role}
    atomic_write(home.service_connection, json.dumps(data, indent=2).encode("utf-8"))


def credential(secrets: SecretStore) -> str:
    value = secrets.get(SERVICE_CREDENTIAL)
    if not value:
        raise NotConfigured("this workstation has no credential for the practice service: connect again "
                            "(practice-client connect ADDRESS)")
    return value
