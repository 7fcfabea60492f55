"""The official tus server (npm ``@tus/server`` + ``@tus/file-store``, pinned by the
committed ``package-lock.json``) as the platform's ``/v1/uploads``, in front of a testbed
platform that serves the rest of the API (``server.mjs``). Installed on first use with
``npm ci`` (under a lock: xdist workers share the folder)."""

from __future__ import annotations

import fcntl
import json
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from practice_client.testbed.platform import TestbedPlatform
from tests.conftest import require

HERE = Path(__file__).resolve().parent


def install() -> None:
    """``npm ci`` once (a no-op when the installed packages match the lock file)."""
    require(shutil.which("node") is not None and shutil.which("npm") is not None, "node + npm")
    with open(HERE / ".install.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        marker = HERE / "node_modules" / ".package-lock.json"
        if marker.exists() and marker.stat().st_mtime >= (HERE / "package-lock.json").stat().st_mtime:
            return
        done = subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=HERE, capture_output=True,
                              text=True, timeout=600, check=False)
        require(done.returncode == 0, f"npm ci of @tus/server ({done.stderr.strip()[-300:]})")


@contextmanager
def official_tus_server(platform: TestbedPlatform, root: Path) -> Iterator[OfficialTusServer]:
    install()
    server = OfficialTusServer(platform, root)
    try:
        yield server
    finally:
        server.stop()


class OfficialTusServer:
    """``https://127.0.0.1:PORT``: @tus/server for uploads, the testbed for the rest."""

    def __init__(self, platform: TestbedPlatform, root: Path) -> None:
        self.store = root / "tus-store"
        self.finishes = platform.data_dir / "finishes"
        for folder in (self.store, self.finishes):
            folder.mkdir(parents=True, exist_ok=True)
        config = root / "tus-server.json"
        config.write_text(json.dumps({
            "token_file": str(platform.data_dir / "token"), "upstream": platform.url,
            "ca_file": str(platform.ca_file), "cert_file": str(platform.tls.cert_file),
            "key_file": str(platform.tls.key_file), "store": str(self.store),
            "documents": str(platform.data_dir / "documents"), "finishes": str(self.finishes),
        }))
        self.process = subprocess.Popen(["node", str(HERE / "server.mjs"), str(config)], cwd=HERE,
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            self.process.wait(timeout=30)
            raise RuntimeError(f"the tus server did not start: {self.process.stderr.read()[-2000:]}")  # type: ignore[union-attr]
        self.url = f"https://127.0.0.1:{json.loads(line)['port']}"

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)
