"""Shares on the testbed platform: what patients' apps shared with the practice.

A patient's app puts two opaque OpenPGP messages on the platform under a random share id
it picks: the document and its manifest, both signed by the patient and encrypted to the
practice's registered key (docs/formats.md, "Shared document"). The platform learns the
sizes and the id, nothing else. Layout below the platform's data folder:

- ``shares/<id>.pgp`` and ``shares/<id>.manifest.pgp`` - the ciphertexts;
- ``shares/index/<time>-<id>`` - an empty marker written *last*, so the listing never
  shows a share whose parts are not both there; the marker names order the listing (the
  cursor is the last name served, as for the inbox);
- ``receipts/<id>.json`` - the practice's receipt (``accepted`` / ``refused``), which the
  patient's app shows.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from practice_client.core.atomic import atomic_write
from practice_client.platform.ids import valid_platform_id

PAGE = 100
RECEIPTS = ("accepted", "refused")
_MARKER = re.compile(r"^\d{8}T\d{12}-(?P<id>[A-Za-z0-9-]{8,64})$")


class ShareError(Exception):
    """What the route answers: an HTTP status and one line."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Listed:
    share_id: str
    size: int
    manifest_size: int
    marker: str

    def to_json(self) -> dict[str, object]:
        return {"id": self.share_id, "size": self.size, "manifest_size": self.manifest_size}


class ShareStore:
    """The shares of one testbed platform (its data folder)."""

    def __init__(self, data_dir: Path) -> None:
        self.folder = data_dir / "shares"
        self.index = self.folder / "index"
        self.receipts = data_dir / "receipts"
        for folder in (self.folder, self.index, self.receipts):
            folder.mkdir(parents=True, exist_ok=True)

    def publish(self, document: bytes, manifest: bytes, share_id: str | None = None) -> str:
        """What the patient's app uploads: both parts, then the marker that lists them."""
        share_id = share_id or str(uuid.uuid4())
        if not valid_platform_id(share_id):
            raise ValueError(f"not a valid share id: {share_id!r}")
        atomic_write(self.path(share_id, "document"), document, 0o644)
        atomic_write(self.path(share_id, "manifest"), manifest, 0o644)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
        atomic_write(self.index / f"{stamp}-{share_id}", b"", 0o644)
        return share_id

    def path(self, share_id: str, part: str) -> Path:
        if not valid_platform_id(share_id):
            raise ShareError(400, "invalid share id")
        return self.folder / (f"{share_id}.pgp" if part == "document" else f"{share_id}.manifest.pgp")

    def listing(self, after: str) -> tuple[list[Listed], str]:
        """The shares listed after the marker name ``after`` (at most :data:`PAGE`), and
        the marker name to continue from."""
        names = sorted(n.name for n in self.index.iterdir() if _MARKER.match(n.name) and n.name > after)[:PAGE]
        listed = []
        for name in names:
            match = _MARKER.match(name)
            assert match is not None
            share_id = match["id"]
            document, manifest = self.path(share_id, "document"), self.path(share_id, "manifest")
            if document.is_file() and manifest.is_file():  # withdrawn by the patient: not listed
                listed.append(Listed(share_id, document.stat().st_size, manifest.stat().st_size, name))
        return listed, (names[-1] if names else after)

    def receipt(self, share_id: str, status: object) -> dict[str, str]:
        """Record the practice's receipt; the same one again is a no-op, another one a 409."""
        if status not in RECEIPTS:
            raise ShareError(400, "status must be 'accepted' or 'refused'")
        if not self.path(share_id, "document").is_file():
            raise ShareError(404, "no such share")
        target = self.receipts / f"{share_id}.json"
        if target.is_file():
            recorded = json.loads(target.read_text("utf-8"))
            if recorded["status"] != status:
                raise ShareError(409, "another receipt is already recorded")
            return dict(recorded)
        record = {"share_id": share_id, "status": str(status),
                  "received_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")}
        atomic_write(target, json.dumps(record, sort_keys=True).encode(), 0o644)
        return record

    def receipt_of(self, share_id: str) -> str | None:
        """What the patient's app shows: the receipt's status, or None while none came."""
        target = self.receipts / f"{share_id}.json"
        return str(json.loads(target.read_text("utf-8"))["status"]) if target.is_file() else None
