"""The upload path alone, A/B in one run: what storing the server's upload URL costs.

The client creates each upload empty, stores the URL the server names, then sends the
bytes with ``PATCH`` (two requests per part), because ``creation-with-upload`` sends bytes
before a URL can be stored and a crash could then leave a second complete copy. This
measures that choice against the one-request alternative on the same testbed server,
the same files and the same client session (no gpg, no outbox): uploads per second with
``tus.upload`` (create + PATCH) and with one ``POST`` carrying the body. Rounds take
turns; each figure is the median of its rounds.

Run alone: ``scripts/with-keyring .venv/bin/python bench/upload_path.py``.
"""

from __future__ import annotations

import os
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from practice_client.platform.api import PlatformClient  # noqa: E402
from practice_client.platform.tus import ENDPOINT, OFFSET_TYPE, TUS_HEADERS, upload_metadata  # noqa: E402
from practice_client.testbed.platform import TestbedPlatform  # noqa: E402

SIZE = 100 * 1024
COUNT = int(os.environ.get("BENCH_UPLOADS", "200"))
ROUNDS = 3
REQUEST_ID = "bench-request"


def _stored_url(client: PlatformClient, path: Path, document_id: str) -> None:
    """As the client uploads: created empty (the URL would be stored here), then PATCHed."""
    client.tus.upload(path, document_id=document_id, part="document", request_id=REQUEST_ID)


def _one_post(client: PlatformClient, path: Path, document_id: str) -> None:
    """``creation-with-upload``: the upload's bytes in the creating request."""
    body = path.read_bytes()
    headers = {**TUS_HEADERS, "Upload-Length": str(len(body)), "Content-Type": OFFSET_TYPE,
               "Upload-Metadata": upload_metadata(document_id, "document", REQUEST_ID)}
    response = client.http.send("POST", ENDPOINT, expect=(201,), headers=headers, data=body, sent_bytes=len(body))
    assert response.headers.get("Upload-Offset") == str(len(body)), response.headers


def _rate(files: list[Path], upload: Callable[[Path, str], None]) -> float:
    started = time.perf_counter()
    for path in files:
        upload(path, str(uuid.uuid4()))
    return len(files) / (time.perf_counter() - started)


def measure() -> tuple[float, float]:
    """(uploads/s created empty then PATCHed, uploads/s with the body in the POST)."""
    root = Path(tempfile.mkdtemp(prefix="pcu", dir="/tmp"))
    try:
        files = []
        for n in range(COUNT):
            path = root / f"{n:04d}.bin"
            path.write_bytes(os.urandom(SIZE))
            files.append(path)
        with TestbedPlatform(root / "platform") as platform, \
                PlatformClient(platform.url, platform.token, ca_file=platform.ca_file) as client:
            stored: list[float] = []
            single: list[float] = []
            for _ in range(ROUNDS):
                os.sync()
                stored.append(_rate(files, lambda p, d: _stored_url(client, p, d)))
                os.sync()
                single.append(_rate(files, lambda p, d: _one_post(client, p, d)))
        return statistics.median(stored), statistics.median(single)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def main() -> int:
    stored, single = measure()
    print(f"upload path, {COUNT} x {SIZE // 1024} KiB, one at a time: create + PATCH {stored:.1f}/s, "
          f"creation-with-upload {single:.1f}/s, ratio {stored / single:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
