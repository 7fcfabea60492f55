"""The command line at a workstation: staff actions sent to the practice service.

In a workstation home (paired with ``practice-client connect``) ``request accept`` and
``request decline`` are commands of the service, each with an idempotency key:

- **Reconnect**: while the service cannot be reached the command is resent with the same
  key - the service applies it once - for up to ``$PRACTICE_CLIENT_SERVICE_WAIT`` seconds
  (30 by default), saying once on stderr that it waits.
- **Nothing half-done**: the key is written to ``pending-commands.json`` in the home before
  the command is sent and removed once the service answered. A key left there (the service
  stayed away, this process was killed) is settled at the next command: the service answers
  with what the action did if it was applied, or closes the key as *not applied* (a late
  copy is refused from then on); the command line says which, then goes on.
- **Clear message**: a service that stays away ends the command with one line saying so
  and that the action is checked at the next command, exit code 1.
"""

from __future__ import annotations

import json
import os
import sys
import uuid
from collections.abc import Callable
from typing import Any

from practice_client.core.atomic import atomic_write
from practice_client.core.errors import NetworkError
from practice_client.core.paths import Home, resolve_home
from practice_client.core.secrets import Secrets
from practice_client.core.text import Text
from practice_client.service.client import Outcome, ServiceClient, ServiceRefused, ServiceUnavailable
from practice_client.service.connection import credential, load_connection

PENDING_FILE = "pending-commands.json"
WAIT_ENV = "PRACTICE_CLIENT_SERVICE_WAIT"
DEFAULT_WAIT = 30.0

Say = Callable[[str], None]


class ServiceOffline(NetworkError):
    """The service did not answer in time; the action's key is kept and settled later."""


def _say(text: str) -> None:
    print(f"practice-client: {text}", file=sys.stderr)


def _wait() -> float:
    try:
        return max(0.0, float(os.environ.get(WAIT_ENV, DEFAULT_WAIT)))
    except ValueError:
        return DEFAULT_WAIT


class Pending:
    """The keys of actions sent and not yet answered, in the workstation's home."""

    def __init__(self, home: Home) -> None:
        self.path = home.root / PENDING_FILE

    def read(self) -> dict[str, str]:
        try:
            value = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError):
            from practice_client.core.errors import InputError

            raise InputError(self.path, "damaged list of unanswered actions (delete it after checking "
                                        "the actions in the app)") from None
        return {str(k): str(v) for k, v in value.items()} if isinstance(value, dict) else {}

    def _write(self, values: dict[str, str]) -> None:
        atomic_write(self.path, json.dumps(values, indent=2, sort_keys=True).encode("utf-8"))

    def add(self, key: str, label: str) -> None:
        self._write({**self.read(), key: label})

    def remove(self, key: str) -> None:
        values = self.read()
        if values.pop(key, None) is not None:
            self._write(values)


def workstation_client(home: Home) -> ServiceClient | None:
    """The service's client for a workstation home; None for a practice's own home."""
    connection = load_connection(home)
    if connection is None:
        return None
    return ServiceClient(connection, credential(Secrets(home.instance_id())))


def settle_pending(client: ServiceClient, pending: Pending, say: Say = _say) -> None:
    """Tell what became of every action that got no answer before (see the module doc)."""
    for key, label in pending.read().items():
        try:
            client.settle(key)
        except ServiceRefused:
            say(str(Text(f"frühere Aktion nicht ausgeführt: {label}", f"an earlier action was not applied: {label}")))
        except ServiceUnavailable:
            return  # still away: the send below says so
        else:
            say(str(Text(f"frühere Aktion ausgeführt: {label}", f"an earlier action was applied: {label}")))
        pending.remove(key)


def send(client: ServiceClient, pending: Pending, name: str, args: dict[str, Any], label: str,
         wait: float | None = None, say: Say = _say) -> Outcome:
    """One staff action, applied once (see the module doc)."""
    settle_pending(client, pending, say)
    key = str(uuid.uuid4())
    pending.add(key, label)  # before a byte is sent: a crash of this process leaves the key
    told: list[bool] = []

    def waiting(message: Text) -> None:
        if not told:
            told.append(True)
            say(str(message + Text(" - neuer Versuch", " - trying again")))

    try:
        outcome = client.command(name, args, key=key, deadline=_wait() if wait is None else wait, on_retry=waiting)
    except ServiceUnavailable as exc:
        raise ServiceOffline(Text(
            f"{exc} - die Aktion ist nicht bestätigt; ob sie ausgeführt wurde, zeigt der nächste Befehl",
            f"{exc} - the action is not confirmed; the next command tells whether it was applied")) from None
    except ServiceRefused:
        pending.remove(key)  # refused: nothing was applied, nothing to settle
        raise
    pending.remove(key)
    return outcome


def remote_command(name: str, args: dict[str, Any], label: str) -> Outcome | None:
    """``name`` sent to the service when this is a workstation home; None otherwise (the
    command runs on the practice's own home as before)."""
    home = resolve_home()
    client = workstation_client(home)
    if client is None:
        return None
    try:
        return send(client, Pending(home), name, args, label)
    finally:
        client.close()
