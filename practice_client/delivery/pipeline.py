"""Encryption and upload workers: the outbox's rows move from ``matched`` to ``delivered``.

``upload_workers`` threads each take one document at a time through encryption
(gpg processes run in parallel) and upload (one :class:`PlatformClient`, so one
``requests`` session whose TLS connections are reused). Failures a retry may cure
(network, server) leave the row where it is and try again later with capped
backoff; anything else fails the document with its reason. ``stop()`` cancels
uploads at the next block; the server keeps what it has and the next start
resumes from its offset.

Uploads (tus, :mod:`practice_client.core.tus`): a document's two uploads are created
empty, and their URLs stored with the ``encrypted -> uploading`` transition, before a
byte is sent; then both are sent and, once the platform confirmed every byte, the
document is ``delivered``. Resuming is a ``HEAD`` on the stored URL; an upload that is
gone is created anew. Uploads of an encryption that is given up (the document is
encrypted anew, or it failed) are abandoned in the same transaction and terminated by
the :class:`~.terminations.Terminator`; a document's uploads are completed only after
its abandoned ones are gone, so no part is ever finished twice.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import queue
import random
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from practice_client.core.errors import (
    NetworkError,
    NotConfigured,
    PlatformRefused,
    PracticeClientError,
    SecretError,
)
from practice_client.core.models import Document, DocumentState
from practice_client.core.tus import UploadGone
from practice_client.crypto.checkpoint import Anchor
from practice_client.delivery import outbox
from practice_client.delivery.encrypt import KeyComparer, seal, sha256_file
from practice_client.delivery.events import Event, EventSink, ignore
from practice_client.delivery.locks import FileLock
from practice_client.delivery.streaming import ENCRYPTED_ANEW, STREAM_MIN_BYTES, DocumentStream
from practice_client.delivery.terminations import Terminator

if TYPE_CHECKING:
    from practice_client.context import Context
    from practice_client.core.platform import PlatformClient

log = logging.getLogger(__name__)

RETRY_BASE_SECONDS = 2.0
RETRY_MAX_SECONDS = 300.0
PROGRESS_STEP = 0.01  # report progress in steps of at least 1 % ...
PROGRESS_SECONDS = 0.2  # ... or this often


class _Progress:
    """Throttles progress callbacks (requests reads 16 KiB at a time) into events."""

    def __init__(self, emit: EventSink, document_id: str, phase: str) -> None:
        self._emit, self._id, self._phase = emit, document_id, phase
        self._last_done, self._last_time = -1, 0.0

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        if (done == total or done - self._last_done >= total * PROGRESS_STEP
                or now - self._last_time >= PROGRESS_SECONDS):
            self._last_done, self._last_time = done, now
            self._emit(Event("progress", self._id, self._phase, done, total))


class Pipeline:
    """Runs documents through encryption and upload until stopped."""

    def __init__(
        self, ctx: Context, on_event: EventSink = ignore,
        client_factory: Callable[[], PlatformClient] | None = None,
    ) -> None:
        self.ctx = ctx
        self._emit = on_event
        self._client_factory = client_factory
        self._client: PlatformClient | None = None
        self._client_lock = threading.Lock()
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._busy: set[str] = set()  # queued or in work: never twice at once
        self._busy_lock = threading.Lock()
        self._fresh: set[str] = set()  # encrypted by this process: no need to re-check
        self._timers: dict[str, threading.Timer] = {}
        self._cancel = threading.Event()
        self._threads: list[threading.Thread] = []
        self._comparer = KeyComparer()
        self._ingest_lock = threading.Lock()
        # audit checkpoints after deliveries; the platform refusing one means this log went back
        self._anchor = Anchor(ctx, self._client_required, lambda text: on_event(Event("alert", message=text)))
        self._terminator = Terminator(ctx.store, self._client_required, self._cancel)

    # -- lifecycle -----------------------------------------------------------------------

    def start(self) -> None:
        """Resume what a previous run left, then start the workers."""
        for doc in outbox.resume(self.ctx):
            self.submit(doc.document_id)
        self._terminator.start()  # what a previous run abandoned is terminated first
        for number in range(max(1, self.ctx.config.upload_workers)):
            thread = threading.Thread(target=self._work, name=f"delivery-{number}", daemon=True)
            thread.start()
            self._threads.append(thread)
        self._anchor.start()
        # The platform client (system CAs, the token from the keyring) takes a fifth of a
        # second to build: ready before the first document, not on its clock.
        threading.Thread(target=self._warm_up, name="platform-client", daemon=True).start()

    def stop(self) -> None:
        """Cancel running uploads at the next block, wait for the workers, close the session."""
        self._cancel.set()
        with self._busy_lock:
            for timer in self._timers.values():
                timer.cancel()
            self._timers.clear()
        for _ in self._threads:
            self._queue.put(None)
        for thread in self._threads:
            thread.join(timeout=60)
        self._threads.clear()
        self._anchor.stop()
        self._terminator.stop()
        with self._client_lock:
            if self._client is not None:
                self._client.close()
                self._client = None

    # -- feeding -------------------------------------------------------------------------

    def submit(self, document_id: str) -> None:
        with self._busy_lock:
            if document_id in self._busy or self._cancel.is_set():
                return
            self._busy.add(document_id)
        self._queue.put(document_id)

    def kick(self) -> None:
        """Pick up rows changed elsewhere (staff assigned or retried a document)."""
        for doc in self.ctx.store.list_documents(
            [DocumentState.MATCHED, DocumentState.ENCRYPTED, DocumentState.UPLOADING]
        ):
            with self._busy_lock:
                waiting = doc.document_id in self._timers
            if not waiting:
                self.submit(doc.document_id)

    def ingest(self, path: Path) -> None:
        """The watcher's ``on_ready``: one entry of the export folder into the outbox."""
        with self._ingest_lock:
            doc = outbox.ingest(self.ctx, path)
        self._state(doc)
        if doc.state is DocumentState.MATCHED:
            self.submit(doc.document_id)

    # -- the workers ---------------------------------------------------------------------

    def _work(self) -> None:
        while True:
            document_id = self._queue.get()
            if document_id is None:
                return
            try:
                self._process(document_id)
            except Exception:  # a bug must not kill the worker; the row stays for a restart
                log.exception("document %s: unexpected error", document_id)
                self._emit(Event("failure", document_id, message=f"internal error ({document_id})"))
            finally:
                with self._busy_lock:
                    self._busy.discard(document_id)

    def _process(self, document_id: str) -> None:
        """One document as far as it goes now - if no other process is working on it."""
        with FileLock(outbox.spool_of(self.ctx, document_id) / outbox.SPOOL_LOCK) as held:
            if held:
                self._advance(document_id)
        outbox.rest(self.ctx, document_id)  # failed meanwhile: its kept original is sealed

    def _advance(self, document_id: str) -> None:
        doc = self.ctx.store.get_document(document_id)  # read under the lock: the truth now
        if doc is None or self._cancel.is_set():
            return
        try:
            if self._held(doc):
                return
            if doc.state is DocumentState.MATCHED:
                outbox.wake(self.ctx, document_id)  # it waited (unassigned, failed) sealed
                doc = self._encrypt(doc)
                if self._held(doc):  # re-pinned while gpg worked: not uploaded to either key
                    return
            fresh: frozenset[str] = frozenset()
            if doc.state is DocumentState.ENCRYPTED:
                doc, fresh = self._start_upload(doc)
                self._state(doc)
            if doc.state is DocumentState.UPLOADING:
                self._upload(doc, fresh)
        except outbox.KeyChanged as change:
            current = self.ctx.store.get_document(document_id)
            if current is not None:
                self._state(outbox.hold(self.ctx, current, change))
        except PlatformRefused as exc:
            self._fail(document_id, f"Plattform lehnt ab / the platform refused: {exc}")
        except (NetworkError, NotConfigured, SecretError) as exc:
            if self._cancel.is_set():
                return  # stopping: the row stays, the next start resumes
            self._retry_later(document_id, str(exc))
        except PracticeClientError as exc:
            self._fail(document_id, str(exc))
        except OSError as exc:
            if exc.errno == errno.ENOSPC:
                self._fail(document_id, "Spool voll, Original unverändert / spool disk full, "
                                        "original untouched")
            else:
                self._fail(document_id, f"Dateifehler / file error: {exc.strerror}")

    def _held(self, doc: Document) -> bool:
        """The patient's key is not the one that signed the accepted request: held for staff."""
        if doc.state not in (DocumentState.MATCHED, DocumentState.ENCRYPTED, DocumentState.UPLOADING):
            return False
        held = outbox.hold_if_key_changed(self.ctx, doc)
        if held is not None:
            self._state(held)
        return held is not None

    def _encrypt(self, doc: Document) -> Document:
        stream = self._stream_for(doc)
        if stream is None and self.ctx.store.abandon_uploads(doc.document_id, ENCRYPTED_ANEW):
            self._terminator.wake()  # an earlier encryption's uploads: never continued
        self._emit(Event("progress", doc.document_id, "encrypting", 0, doc.size))
        sealed = seal(self.ctx, doc, self._client_or_none(), self._comparer,
                      _Progress(self._emit, doc.document_id, "encrypting"), stream)
        extra = {**doc.extra, **({"alert": "server_key_mismatch"} if sealed.alert else {})}
        if sealed.alert:
            self._emit(Event("alert", doc.document_id, "server_key_mismatch",
                             message=f"server key mismatch for document {doc.document_id}"))
        doc = self.ctx.store.transition(
            doc.document_id, DocumentState.ENCRYPTED, ciphertext_sha256=sealed.ciphertext_sha256,
            manifest_sha256=sealed.manifest_sha256, sha256=sealed.plaintext_sha256,
            size=sealed.size, extra=extra,
        )
        self._fresh.add(doc.document_id)
        self._state(doc)
        return doc

    def _stream_for(self, doc: Document) -> DocumentStream | None:
        """A large document is uploaded while gpg writes it (if the platform is reachable)."""
        if doc.size < STREAM_MIN_BYTES:
            return None
        client = self._client_or_none()
        if client is None:
            return None
        assert doc.request_id is not None
        return DocumentStream(self.ctx.store, client, doc.document_id, doc.request_id, self._cancel,
                              self._terminator.wake)

    def _parts(self, doc: Document) -> tuple[tuple[str, Path], ...]:
        spool = outbox.spool_of(self.ctx, doc.document_id)
        return ("manifest", spool / outbox.MANIFEST), ("document", spool / outbox.CIPHERTEXT)

    def _start_upload(self, doc: Document) -> tuple[Document, frozenset[str]]:
        """``encrypted -> uploading``: create the uploads the document has not got yet
        (empty) and store their URLs with the transition - before a byte is sent. A crash
        between the POST and the commit leaves an empty upload on the platform (its
        expiration removes it), never a copy of the document. Returns the new URLs."""
        client = self._client_required()
        self._terminator.drain(doc.document_id)  # an abandoned upload may be complete: gone first
        assert doc.request_id is not None
        stored = self.ctx.store.uploads_of(doc.document_id)
        created = {
            part: client.tus.create(document_id=doc.document_id, part=part, request_id=doc.request_id,
                                    length=path.stat().st_size)
            for part, path in self._parts(doc) if part not in stored
        }
        doc = self.ctx.store.transition(doc.document_id, DocumentState.UPLOADING,
                                        attempts=doc.attempts + 1, uploads=created)
        return doc, frozenset(created.values())

    def _upload(self, doc: Document, fresh: frozenset[str]) -> None:
        spool = outbox.spool_of(self.ctx, doc.document_id)
        if doc.document_id not in self._fresh:
            # Resumed from an earlier run: the bytes must be the ones the receipt names,
            # or a resumed upload would splice two different ciphertexts.
            ciphertext = spool / outbox.CIPHERTEXT
            if not ciphertext.exists() or sha256_file(ciphertext) != doc.ciphertext_sha256:
                raise PracticeClientError(
                    "Verschlüsselte Datei im Spool fehlt oder wurde verändert / "
                    "the spooled ciphertext is missing or changed"
                )
            self._fresh.add(doc.document_id)
        client = self._client_required()
        self._terminator.drain(doc.document_id)
        urls = self.ctx.store.uploads_of(doc.document_id)
        for part, path in self._parts(doc):
            progress = _Progress(self._emit, doc.document_id, "uploading") if part == "document" else None
            url = urls.get(part)
            try:
                if url is None:
                    raise UploadGone(f"{doc.document_id}.{part}: no upload stored")
                client.tus.send(url, path, fresh=url in fresh, progress=progress, cancel=self._cancel)
            except UploadGone as exc:
                log.info("document %s: %s; a new upload", doc.document_id, exc)
                assert doc.request_id is not None
                url = client.tus.create(document_id=doc.document_id, part=part, request_id=doc.request_id,
                                        length=path.stat().st_size)
                doc = self.ctx.store.transition(doc.document_id, DocumentState.UPLOADING, uploads={part: url})
                client.tus.send(url, path, fresh=True, progress=progress, cancel=self._cancel)
        done = outbox.delivered(self.ctx, doc, doc.ciphertext_sha256 or "")
        self._anchor.poke()
        self._fresh.discard(doc.document_id)
        self._state(done)
        self._emit(Event("connected"))

    # -- outcomes ------------------------------------------------------------------------

    def _fail(self, document_id: str, reason: str) -> None:
        doc = self.ctx.store.get_document(document_id)
        if doc is None or doc.state in (DocumentState.DELIVERED, DocumentState.FAILED):
            return
        failed = outbox.fail(self.ctx, doc, reason)
        self._terminator.wake()  # its uploads were abandoned with the failure
        self._fresh.discard(document_id)
        self._state(failed)
        self._emit(Event("failure", document_id, "failed", message=f"document {document_id} failed"))

    def _retry_later(self, document_id: str, reason: str) -> None:
        doc = self.ctx.store.get_document(document_id)
        if doc is None:
            return
        attempts = doc.attempts + 1
        if doc.state is DocumentState.UPLOADING:
            self.ctx.store.transition(document_id, DocumentState.UPLOADING,
                                      attempts=attempts, error=reason)
        delay = min(RETRY_MAX_SECONDS, RETRY_BASE_SECONDS * 2 ** min(attempts, 10))
        delay *= random.uniform(0.5, 1.0)  # noqa: S311 - jitter, not security
        log.info("document %s: transient failure, retry in %.0f s", document_id, delay)
        self._emit(Event("offline", document_id, message=f"platform not reachable ({document_id})"))

        def again() -> None:
            with self._busy_lock:
                self._timers.pop(document_id, None)
            self.submit(document_id)

        timer = threading.Timer(delay, again)
        timer.daemon = True
        with self._busy_lock:
            if self._cancel.is_set():
                return
            self._timers[document_id] = timer
        timer.start()

    def _state(self, doc: Document) -> None:
        self._emit(Event("state", doc.document_id, str(doc.state), doc.size if
                         doc.state is DocumentState.DELIVERED else 0, doc.size))

    # -- the platform client -------------------------------------------------------------

    def _client_required(self) -> PlatformClient:
        with self._client_lock:
            if self._client is None:
                if self._client_factory is not None:
                    self._client = self._client_factory()
                else:
                    from practice_client.core.platform import PlatformClient

                    self._client = PlatformClient.from_context(self.ctx)
            return self._client

    def _warm_up(self) -> None:
        if not self._cancel.is_set():
            self._client_or_none()

    def _client_or_none(self) -> PlatformClient | None:
        """For the key comparison, which never blocks delivery."""
        with contextlib.suppress(PracticeClientError):
            return self._client_required()
        return None
