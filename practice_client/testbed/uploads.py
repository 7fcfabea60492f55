"""The testbed's resumable-upload store, on disk, behaving like a standard tus 1.0 server
(tusd, @tus/server with a file store): core, creation, creation-with-upload,
creation-defer-length, termination, checksum.

Every ``POST`` creates a new upload under a random id the server chooses
(``uploads/<id>.bin`` for its bytes - the file's size *is* the offset, so a restarted
server resumes exactly where the bytes on disk end - and ``uploads/<id>.json`` for its
metadata); nothing is ever found again by metadata. A finished upload stays answerable
(``HEAD``) as on those servers.

On top sits what a platform built on a tus server's *finish hook* does: when an upload
finishes, its part (metadata ``document_id``, ``part``, ``request_id``) is recorded in
``finishes/<document id>.<part>.<upload id>`` - so tests can see a part finished twice -
and once both parts of a document are finished the document is filed:
``documents/<document id>.pgp`` and ``.manifest.pgp``, with ``documents/<document id>.json``
(request id, sizes).

Termination removes an upload; a finished part that was not filed yet is forgotten with
it (a filed document stays). All methods run on the server's event-loop thread.
"""

from __future__ import annotations

import json
import os
import re
import secrets
from dataclasses import asdict, dataclass
from pathlib import Path

from practice_client.core.atomic import atomic_write, fsync_dir
from practice_client.platform.ids import valid_platform_id

PARTS = {"document": ".pgp", "manifest": ".manifest.pgp"}
MAX_UPLOAD_LENGTH = 16 * 1024**3
UPLOAD_ID_RE = re.compile(r"^[0-9a-f]{32}$")


class ApiError(Exception):
    """A request the store refuses; ``status`` is the HTTP status to answer with."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class Upload:
    upload_id: str
    document_id: str
    part: str
    request_id: str
    length: int | None  # None: deferred (creation-defer-length), declared by a later PATCH
    complete: bool = False
    filed: bool = False  # its document was filed (both parts finished)


class UploadStore:
    def __init__(self, data_dir: Path) -> None:
        self.uploads = data_dir / "uploads"
        self.documents = data_dir / "documents"
        self.finishes = data_dir / "finishes"
        self.busy: set[str] = set()
        self._unfiled: dict[tuple[str, str], str] | None = None  # (document, part) -> upload id

    def _meta_path(self, upload_id: str) -> Path:
        return self.uploads / f"{upload_id}.json"

    def data_path(self, upload: Upload) -> Path:
        return self.uploads / f"{upload.upload_id}.bin"

    def document_path(self, document_id: str, part: str) -> Path:
        if part not in PARTS or not valid_platform_id(document_id):
            raise ApiError(404, "no such document")
        return self.documents / f"{document_id}{PARTS[part]}"

    def get(self, upload_id: str) -> Upload:
        if not UPLOAD_ID_RE.match(upload_id):
            raise ApiError(404, "no such upload")
        try:
            raw = json.loads(self._meta_path(upload_id).read_text("utf-8"))
        except FileNotFoundError:
            raise ApiError(404, "no such upload") from None
        upload = Upload(**raw)
        if (not upload.complete and upload.length is not None and upload_id not in self.busy
                and self.offset(upload) == upload.length):
            self.finish(upload)  # a crash between the last byte and the finish hook: finish now
        return upload

    def offset(self, upload: Upload) -> int:
        if upload.complete and upload.length is not None:
            return upload.length
        return self.data_path(upload).stat().st_size

    def create(self, document_id: str, part: str, request_id: str, length: int | None) -> Upload:
        """A new, empty upload under a random id (every POST: a new upload)."""
        if part not in PARTS:
            raise ApiError(400, "part must be 'document' or 'manifest'")
        if not valid_platform_id(document_id) or not valid_platform_id(request_id):
            raise ApiError(400, "invalid document_id or request_id")
        if length is not None and not 0 <= length <= MAX_UPLOAD_LENGTH:
            raise ApiError(413, "Upload-Length out of range")
        upload = Upload(secrets.token_hex(16), document_id, part, request_id, length)
        self.uploads.mkdir(parents=True, exist_ok=True)
        self.data_path(upload).touch()
        self._save(upload)
        if length == 0:
            self.finish(upload)
        return upload

    def declare_length(self, upload: Upload, length: int) -> None:
        """creation-defer-length: the length of a deferred upload, once (it never changes)."""
        if upload.length == length:
            return
        if upload.length is not None:
            raise ApiError(400, "Upload-Length differs from the upload's length")
        if not self.offset(upload) <= length <= MAX_UPLOAD_LENGTH:
            raise ApiError(400, "Upload-Length out of range")
        upload.length = length
        self._save(upload)

    def terminate(self, upload_id: str) -> None:
        """termination: forget an upload (and its part, if finished but not filed yet)."""
        upload = self.get(upload_id)
        if upload_id in self.busy:
            raise ApiError(423, "a PATCH of this upload is in progress")
        if self.unfiled().get((upload.document_id, upload.part)) == upload_id:
            del self.unfiled()[(upload.document_id, upload.part)]
        self.data_path(upload).unlink(missing_ok=True)
        self._meta_path(upload_id).unlink()
        fsync_dir(self.uploads)

    def _save(self, upload: Upload) -> None:
        atomic_write(self._meta_path(upload.upload_id), json.dumps(asdict(upload)).encode(), 0o644)

    def unfiled(self) -> dict[tuple[str, str], str]:
        """Finished parts waiting for their other half (read from disk once)."""
        if self._unfiled is None:
            self._unfiled = {}
            for meta in sorted(self.uploads.glob("*.json")):
                upload = Upload(**json.loads(meta.read_text("utf-8")))
                if upload.complete and not upload.filed:
                    self._unfiled[(upload.document_id, upload.part)] = upload.upload_id
        return self._unfiled

    def finish(self, upload: Upload) -> None:
        """All bytes are here: the finish hook records the part and files the document
        once both parts are finished."""
        self.finishes.mkdir(parents=True, exist_ok=True)
        (self.finishes / f"{upload.document_id}.{upload.part}.{upload.upload_id}").touch()
        fsync_dir(self.finishes)
        upload.complete = True
        self._save(upload)
        unfiled = self.unfiled()
        unfiled[(upload.document_id, upload.part)] = upload.upload_id
        halves = [unfiled.get((upload.document_id, part)) for part in PARTS]
        if all(halves):
            self._file([self.get(h) for h in halves if h])

    def _file(self, halves: list[Upload]) -> None:
        """Move both parts into place atomically and record the sizes."""
        self.documents.mkdir(parents=True, exist_ok=True)
        first = halves[0]
        for half in halves:
            os.replace(self.data_path(half), self.document_path(half.document_id, half.part))
        fsync_dir(self.documents)
        record = {"document_id": first.document_id, "request_id": first.request_id,
                  "sizes": {half.part: half.length for half in halves}}
        atomic_write(self.documents / f"{first.document_id}.json",
                     json.dumps(record, sort_keys=True).encode(), 0o644)
        for half in halves:
            half.filed = True
            self._save(half)
            del self.unfiled()[(half.document_id, half.part)]
