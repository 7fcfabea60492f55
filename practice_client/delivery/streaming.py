"""Upload a large document's ciphertext while gpg is still writing it.

The shell baseline pipes gpg into curl, so encryption and upload overlap; without
this the client would encrypt a 1 GiB file completely before sending its first byte.
While the row is still ``matched``, a thread tails gpg's growing spool file and sends
what is written (tus ``creation-defer-length``: the server holds the bytes but cannot
complete the upload - its length is declared only by the ordinary upload in the
``uploading`` state, which sends the rest). So the state machine and the receipt stay
as they are: the receipt is the SHA-256 of the spool file, and every byte the server
holds was read from that file at its own offset.

Crash safety - a new encryption produces a *different* ciphertext (fresh session
key), so the server must never combine bytes of two attempts. Before gpg starts, the
attempt asks the server about the document part:

- a COMPLETE upload whose length equals the complete spooled ``document.pgp``, made for
  the same recipients (``stream.json``), is adopted: gpg had finished, and the server's
  bytes can only have come from that file - every earlier attempt's upload was
  discarded before it began;
- anything else the server holds is discarded (tus ``termination``);
- then ``stream.json`` (the recipients) is written durably, and streaming starts.

A platform without these tus extensions gets no streaming. If the platform cannot be
asked: after an earlier streamed attempt (``stream.json``
exists) the document waits (retry with backoff), since encrypting anew without
discarding could splice; otherwise it is encrypted without streaming, as before.
"""

from __future__ import annotations

import enum
import json
import logging
import threading
from typing import TYPE_CHECKING

from practice_client.core.atomic import atomic_write
from practice_client.core.errors import NetworkError
from practice_client.delivery.outbox import CIPHERTEXT

if TYPE_CHECKING:
    from pathlib import Path

    from practice_client.core.platform import PlatformClient

log = logging.getLogger(__name__)

STREAM_MIN_BYTES = 4 * 1024 * 1024  # below this, encrypt first and upload after (no gain)
MARKER = "stream.json"
PART = "document"
EXTENSIONS = ("creation-defer-length", "termination")


class Plan(enum.Enum):
    ADOPT = "adopt"  # the server has the spooled ciphertext: no new encryption
    STREAM = "stream"  # encrypt, uploading while gpg writes
    PLAIN = "plain"  # encrypt only (the platform cannot be asked now)


class DocumentStream:
    """One encryption attempt's streamed upload of the document part."""

    def __init__(self, client: PlatformClient, document_id: str, request_id: str,
                 cancel: threading.Event) -> None:
        self._client = client
        self._document_id = document_id
        self._request_id = request_id
        self._cancel = cancel
        self._finished = threading.Event()
        self._thread: threading.Thread | None = None

    def prepare(self, spool: Path, recipients: list[str]) -> Plan:
        """Before gpg starts (see the module docstring). Raises NetworkError when the
        platform cannot be asked after an earlier streamed attempt."""
        marker = spool / MARKER
        try:
            if not self._client.offers(*EXTENSIONS):
                if marker.exists():
                    raise NetworkError("the platform no longer offers upload termination")
                return Plan.PLAIN
            state = self._client.upload_state(self._document_id, PART)
        except NetworkError:
            if marker.exists():
                raise
            return Plan.PLAIN
        if state is not None:
            ciphertext = spool / CIPHERTEXT
            if (state.complete and marker.exists() and ciphertext.exists()
                    and ciphertext.stat().st_size == state.length
                    and json.loads(marker.read_text("utf-8")).get("recipients") == recipients):
                log.info("document %s: the platform holds the complete spooled ciphertext; adopted",
                         self._document_id)
                return Plan.ADOPT
            log.info("document %s: discarding the platform's upload of an earlier encryption",
                     self._document_id)
            self._client.terminate(self._document_id, PART)
        atomic_write(marker, json.dumps({"recipients": recipients}).encode("utf-8"))
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
        try:
            sent = self._client.upload_growing(
                growing, document_id=self._document_id, part=PART, request_id=self._request_id,
                finished=self._finished, cancel=self._cancel,
            )
            log.debug("document %s: %d bytes streamed during encryption", self._document_id, sent)
        except Exception as exc:  # best effort: the upload proper resumes from the server's offset
            log.info("document %s: streaming during encryption stopped (%s)", self._document_id,
                     type(exc).__name__)
