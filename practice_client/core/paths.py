"""Where the client keeps its state: one home directory, nothing elsewhere.

The home is ``$PRACTICE_CLIENT_HOME`` when set (tests, demo, several practices on one
server), otherwise the platform's user data directory from platformdirs.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

import platformdirs

APP_NAME = "practice-client"
APP_AUTHOR = "PracticeClient"
HOME_ENV = "PRACTICE_CLIENT_HOME"


@dataclass(frozen=True)
class Home:
    """The layout of the client's home directory. All paths derive from ``root``."""

    root: Path

    @property
    def config(self) -> Path:
        return self.root / "config.toml"

    @property
    def gnupg(self) -> Path:
        return self.root / "gnupg"

    @property
    def database(self) -> Path:
        return self.root / "state.sqlite3"

    @property
    def audit(self) -> Path:
        return self.root / "audit.jsonl"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def spool(self) -> Path:
        """Ciphertexts waiting for upload (encrypted, so no patient data in clear)."""
        return self.root / "spool"

    @property
    def instance_file(self) -> Path:
        return self.root / "instance-id"

    @property
    def service_connection(self) -> Path:
        """A workstation's pinned practice service (``service/connection.py``): a home
        that has it holds no practice of its own."""
        return self.root / "service-connection.json"

    def ensure(self) -> Home:
        """Create the home and its folders, private to the user (0700)."""
        for folder in (self.root, self.logs, self.spool):
            folder.mkdir(parents=True, exist_ok=True)
            if os.name == "posix":
                os.chmod(folder, 0o700)
        return self

    def instance_id(self) -> str:
        """A random id for this home; it names the keyring entries so homes never share secrets."""
        try:
            return self.instance_file.read_text(encoding="ascii").strip()
        except FileNotFoundError:
            from practice_client.core.atomic import atomic_write

            self.ensure()
            value = secrets.token_hex(8)
            atomic_write(self.instance_file, value.encode("ascii"))
            return value


def resolve_home() -> Home:
    """The home from ``$PRACTICE_CLIENT_HOME`` or platformdirs (not created here)."""
    env = os.environ.get(HOME_ENV)
    if env:
        return Home(Path(env).expanduser().absolute())
    return Home(Path(platformdirs.user_data_dir(APP_NAME, APP_AUTHOR)))
