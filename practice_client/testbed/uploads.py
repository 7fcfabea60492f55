"""The testbed's resumable-upload store (tus 1.0 core + creation, creation-defer-length,
termination), on disk.

An upload is named ``<document id>.<part>``. Its bytes grow in
``uploads/<name>.bin``; the file's size *is* the offset, so a restarted server
resumes exactly where the bytes on disk end. Its metadata lives in
``uploads/<name>.json``. When the last byte arrives the file is moved atomically
to ``documents/<document id>.pgp`` (or ``.manifest.pgp``) and
``documents/<document id>.json`` records the request id and the sizes.

An upload created with a deferred length (``length`` None) grows until a PATCH
declares its length; it cannot complete before. Termination removes an upload,
finished or not, so that a client can start over with a different ciphertext.

All methods run on the server's event-loop thread (no locking needed here).
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from practice_client.core.atomic import atomic_write, fsync_dir
from practice_client.core.platform import valid_platform_id

PARTS = {"document": ".pgp", "manifest": ".manifest.pgp"}
MAX_UPLOAD_LENGTH = 16 * 1024**3


class ApiError(Exception):
    """A request the store refuses; ``status`` is the HTTP status to answer with."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class Upload:
    document_id: str
    part: str
    request_id: str
    length: int | None  # None: deferred (creation-defer-length), declared by a later PATCH
    complete: bool = False

    @property
    def name(self) -> str:
        return f"{self.document_id}.{self.part}"


def split_upload_name(name: str) -> tuple[str, str]:
    """``<document id>.<part>`` → its two halves, refusing anything else (no traversal)."""
    document_id, _, part = name.rpartition(".")
    if part not in PARTS or not valid_platform_id(document_id):
        raise ApiError(404, "no such upload")
    return document_id, part


class UploadStore:
    def __init__(self, data_dir: Path) -> None:
        self.uploads = data_dir / "uploads"
        self.documents = data_dir / "documents"
        self.busy: set[str] = set()

    def _meta_path(self, name: str) -> Path:
        return self.uploads / f"{name}.json"

    def data_path(self, upload: Upload) -> Path:
        return self.uploads / f"{upload.name}.bin"

    def document_path(self, document_id: str, part: str) -> Path:
        if part not in PARTS or not valid_platform_id(document_id):
            raise ApiError(404, "no such document")
        return self.documents / f"{document_id}{PARTS[part]}"

    def get(self, name: str) -> Upload:
        split_upload_name(name)
        try:
            raw = json.loads(self._meta_path(name).read_text("utf-8"))
        except FileNotFoundError:
            raise ApiError(404, "no such upload") from None
        upload = Upload(**raw)
        if (not upload.complete and upload.length is not None and name not in self.busy
                and self.offset(upload) == upload.length):
            self.finish(upload)  # a crash between the last byte and the move: finish now
        return upload

    def offset(self, upload: Upload) -> int:
        if upload.complete and upload.length is not None:
            return upload.length
        return self.data_path(upload).stat().st_size

    def create(self, document_id: str, part: str, request_id: str, length: int | None) -> Upload:
        """Create an upload, or return the existing one (idempotent per document id + part).
        An existing deferred upload matches a known length: its PATCH declares it."""
        if part not in PARTS:
            raise ApiError(400, "part must be 'document' or 'manifest'")
        if not valid_platform_id(document_id) or not valid_platform_id(request_id):
            raise ApiError(400, "invalid document_id or request_id")
        if length is not None and not 0 <= length <= MAX_UPLOAD_LENGTH:
            raise ApiError(413, "Upload-Length out of range")
        wanted = Upload(document_id, part, request_id, length)
        try:
            existing = self.get(wanted.name)
        except ApiError:
            existing = None
        if existing is not None:
            if existing.request_id != request_id or existing.length not in (length, None):
                raise ApiError(409, "this document id is already used with other parameters")
            return existing
        self.uploads.mkdir(parents=True, exist_ok=True)
        self.data_path(wanted).touch()
        self._save(wanted)
        if length == 0:
            self.finish(wanted)
        return wanted

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

    def terminate(self, name: str) -> None:
        """termination: forget an upload and, if it had finished, its stored part."""
        upload = self.get(name)
        if name in self.busy:
            raise ApiError(423, "a PATCH of this upload is in progress")
        if upload.complete:
            self.document_path(upload.document_id, upload.part).unlink(missing_ok=True)
            record_path = self.documents / f"{upload.document_id}.json"
            record = json.loads(record_path.read_text("utf-8"))
            record.get("sizes", {}).pop(upload.part, None)
            if record.get("sizes"):
                atomic_write(record_path, json.dumps(record, sort_keys=True).encode(), 0o644)
            else:
                record_path.unlink()
        else:
            self.data_path(upload).unlink(missing_ok=True)
        self._meta_path(name).unlink()
        fsync_dir(self.uploads)

    def _save(self, upload: Upload) -> None:
        atomic_write(self._meta_path(upload.name), json.dumps(asdict(upload)).encode(), 0o644)

    def finish(self, upload: Upload) -> None:
        """All bytes are here: move them into place atomically and record the sizes."""
        self.documents.mkdir(parents=True, exist_ok=True)
        os.replace(self.data_path(upload), self.document_path(upload.document_id, upload.part))
        fsync_dir(self.documents)
        record_path = self.documents / f"{upload.document_id}.json"
        try:
            record = json.loads(record_path.read_text("utf-8"))
        except FileNotFoundError:
            record = {"document_id": upload.document_id, "request_id": upload.request_id}
        record.setdefault("sizes", {})[upload.part] = upload.length
        atomic_write(record_path, json.dumps(record, sort_keys=True).encode(), 0o644)
        upload.complete = True
        self._save(upload)
