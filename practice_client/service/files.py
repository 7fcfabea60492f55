"""Where the practice service keeps its data: the home the installers give it (writable by
the service's account only), its own files there (vault, certificate, endpoint, control
token) and the port it listens on."""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from practice_client.core.errors import StateError
from practice_client.core.paths import Home

DEFAULT_PORT = 8471
SERVICE_FOLDER = "service"


def default_service_home() -> Home:
    """Where the installers put the service's data (writable by the service's account only)."""
    if sys.platform == "win32":  # pragma: no cover - Windows only
        return Home(Path(os.environ.get("PROGRAMDATA", r"C:\ProgramData")) / "PracticeClient" / "service")
    if sys.platform == "darwin":  # pragma: no cover - macOS only
        return Home(Path("/Library/Application Support/PracticeClient/service"))
    return Home(Path(os.environ.get("STATE_DIRECTORY", "/var/lib/practice-client")))


@dataclass(frozen=True)
class ServiceFiles:
    """The service's own files in its home."""

    home: Home

    @property
    def folder(self) -> Path:
        return self.home.root / SERVICE_FOLDER

    @property
    def vault(self) -> Path:
        return self.folder / "vault"

    @property
    def cert(self) -> Path:
        return self.folder / "cert.pem"

    @property
    def endpoint(self) -> Path:
        return self.folder / "endpoint.json"

    @property
    def control_token(self) -> Path:
        runtime = os.environ.get("RUNTIME_DIRECTORY")
        return (Path(runtime.split(":")[0]) if runtime else self.folder) / "control-token"

    def read_endpoint(self) -> dict[str, Any]:
        try:
            value = json.loads(self.endpoint.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            raise StateError(f"{self.endpoint}: the practice service is not running here "
                             "(or this account may not read its files)") from None
        return value if isinstance(value, dict) else {}
