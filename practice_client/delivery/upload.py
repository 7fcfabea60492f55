"""The platform's side of a delivery: one job object per network action (tus), in the
manner of SecureDrop Client's ``api_jobs`` - each gets what it works on when made and
the client it talks through when run, so each is tested on its own and none reaches
for a global.

- :class:`CreateUploads` - ``encrypted -> uploading``: the uploads a document has not
  got yet are created empty, and their URLs stored with the transition before a byte
  is sent (the caller stores them). A crash between the POST and the commit leaves an
  empty upload on the platform (its expiration removes it), never a copy of the document.
- :class:`SendUploads` - both parts brought to completion from the server's offset;
  an upload that is gone is created anew (its URL stored first) and sent again.
- :class:`StreamUpload` - a large document's part sent while gpg still writes it.

Terminating abandoned uploads is :mod:`.terminations`' queue.

Streaming while gpg writes
--------------------------
Upload a large document's ciphertext while gpg is still writing it.

The shell baseline pipes gpg into curl, so encryption and upload overlap; without
this the client would encrypt a 1 GiB file completely before sending its first byte.
While the row is still ``matched``, a thread tails gpg's growing spool file and sends
what is written (tus ``creation-defer-length``: the server holds the bytes but cannot
complete the upload - its length is declared only by the ordinary upload in the
``uploading`` state, which sends the rest). So the state machine and the receipt stay
as they are: the receipt is the SHA-256 of the spool file, and every byte the server
holds was read from that file at its own offset.

Crash safety - a new encryption produces a *different* ciphertext (fresh session
key), so the server must never combine bytes of two attempts. Before gpg starts, every
upload stored for the document (an earlier attempt's, killed while streaming) is
abandoned - queued for tus ``termination`` in one transaction with the decision
(:mod:`.terminations`) - and a new, empty upload with a deferred length is created and
its URL stored; only then does streaming start. Such an upload can only ever be
completed in the ``uploading`` state, from the spooled ciphertext: an upload stored
while the row is ``matched`` is never complete, so there is nothing to adopt.

A platform without ``creation-defer-length``, or one that cannot be reached, gets no
streaming: the document is encrypted first and uploaded after.
"""

from __future__ import annotations

import enum
import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from practice_client.core.errors import NetworkError
from practice_client.platform.tus import Tus, UploadGone

if TYPE_CHECKING:
    from pathlib import Path

    from practice_client.core.store import Store
    from practice_client.platform.api import PlatformClient

log = logging.getLogger(__name__)

PART_MANIFEST = "manifest"  # the parts of a document's upload, by their tus part name
PART_DOCUMENT = "document"
STREAM_MIN_BYTES = 4 * 1024 * 1024  # below this, seal first and upload after (no gain)
ENCRYPTED_ANEW = "document encrypted anew"  # why an earlier sealing's uploads are abandoned

Parts = tuple[tuple[str, Path], ...]  # (part, spool file) in the order they are sent


@dataclass(frozen=True)
class CreateUploads:
    """Create the uploads of the parts not in ``stored`` (empty); returns their URLs by part."""

    document_id: str
    request_id: str
    parts: Parts
    stored: Mapping[str, str]

    def run(self, tus: Tus) -> dict[str, str]:
        return {part: _create(tus, self.document_id, part, self.request_id, path)
                for part, path in self.parts if part not in self.stored}


@dataclass(frozen=True)
class SendUploads:
    """Send every part to its upload until the platform confirmed every byte. ``fresh``:
    URLs just created (empty: no ``HEAD`` first); ``replaced(part, url)`` stores a new
    upload's URL before a byte goes to it; ``progress`` follows the document part."""

    document_id: str
    request_id: str
    parts: Parts
    urls: Mapping[str, str]
    fresh: frozenset[str]
    cancel: threading.Event
    progress: Callable[[int, int], None] | None = None

    def run(self, tus: Tus, replaced: Callable[[str, str], None]) -> None:
        for part, path in self.parts:
            progress = self.progress if part == PART_DOCUMENT else None
            url = self.urls.get(part)
            try:
                if url is None:
                    raise UploadGone(f"{self.document_id}.{part}: no upload stored")
                tus.send(url, path, fresh=url in self.fresh, progress=progress, cancel=self.cancel)
            except UploadGone as exc:
                log.info("document %s: %s; a new upload", self.document_id, exc)
                url = _create(tus, self.document_id, part, self.request_id, path)
                replaced(part, url)
                tus.send(url, path, fresh=True, progress=progress, cancel=self.cancel)


def _create(tus: Tus, document_id: str, part: str, request_id: str, path: Path) -> str:
    return tus.create(document_id=document_id, part=part, request_id=request_id, length=path.stat().st_size)


class Plan(enum.Enum):
    STREAM = "stream"  # encrypt, uploading while gpg writes
    PLAIN = "plain"  # encrypt only (the platform cannot stream now)


class StreamUpload:
    """One sealing attempt's streamed upload of the document part (see the module docstring:
    *streaming while gpg writes*)."""

    def __init__(self, store: Store, client: PlatformClient, document_id: str, request_id: str,
                 cancel: threading.Event, abandoned: Callable[[], None]) -> None:
        self._store = store
        self._client = client
        self._document_id = document_id
        self._request_id = request_id
        self._cancel = cancel
        self._abandoned = abandoned  # told when uploads were queued for termination
        self._finished = threading.Event()
        self._thread: threading.Thread | None = None
        self._url: str | None = None

    def prepare(self) -> Plan:
        """Before gpg starts (see the module docstring)."""
        if self._store.abandon_uploads(self._document_id, ENCRYPTED_ANEW):
            log.info("document %s: the platform's uploads of an earlier encryption are discarded",
                     self._document_id)
            self._abandoned()
        tus = self._client.tus
        try:
            if not tus.offers("creation-defer-length"):
                return Plan.PLAIN
            url = tus.create(document_id=self._document_id, part=PART_DOCUMENT, request_id=self._request_id,
                             length=None)
        except NetworkError as exc:
            log.info("document %s: not streamed (%s)", self._document_id, exc)
            return Plan.PLAIN
        self._store.record_upload(self._document_id, PART_DOCUMENT, url)
        self._url = url
        return Plan.STREAM

    def start(self, growing: Path) -> None:
        """Tail ``growing`` (gpg's output) in a thread until :meth:`finish`."""
        self._thread = threading.Thread(target=self._run, args=(growing,), daemon=True,
                                        name=f"stream-{self._document_id[:8]}")
        self._thread.start()

    def finish(self) -> None:
        """gpg is done (or failed): send what is written, then stop. Idempotent."""
        self._finished.set()
        if self._thread is not None:
            self._thread.join()

    def _run(self, growing: Path) -> None:
        assert self._url is not None
        try:
            sent = self._client.tus.send_growing(self._url, growing, finished=self._finished,
                                                 cancel=self._cancel)
            log.debug("document %s: %d bytes streamed during encryption", self._document_id, sent)
        except Exception as exc:  # best effort: the upload proper resumes from the server's offset
            log.info("document %s: streaming during encryption stopped (%s)", self._document_id,
                     type(exc).__name__)
