"""A document's life in one place: its states, the inputs each takes and what each puts out.

In magic-wormhole's habit, the whole machine side by side. This class drives the
states the pipeline owns (``matched`` to ``delivered``); the other rows say who moves
a document on from the states that wait (the outbox's functions, on the watcher's or
staff's input). Each step is one transition made by :mod:`.outbox` (atomic, audited),
each network action one job of :mod:`.upload`, the sealing :mod:`.seal`'s::

    state       input                                  next state   outputs (by)
    ----------  -------------------------------------  -----------  ------------------------------------
    (none)      the watcher sees a complete file       detected     the row, before any work (ingest)
    detected    taken into the spool, rules match      matched      state (outbox.match)
                taken, no rule gives one request       unassigned   reason for staff, original at rest
                not a file we may read                 failed       entry to failed/ with the reason
    unassigned  staff assign (birth date confirmed)    matched      audit (outbox.assign)
                a request is accepted, rules match     matched      (outbox.rematch)
    matched     the accepted key is still pinned       encrypted    progress "encrypting"; state (here)
                the patient was re-pinned              held         both fingerprints; state (here)
    encrypted   the uploads are created (URLs stored)  uploading    state (here)
    uploading   every byte of both parts confirmed     delivered    GDT answer; original parked; state;
                                                                    connected (here)
                an upload is gone                      uploading    its new URL stored, sent anew (here)
    held        staff send to the new key              matched      audit (outbox.release)
                staff withhold                         failed       audit (outbox.withhold)
    failed      staff retry                            matched      original back from failed/ (outbox.retry)
    (working)   the platform refused                   failed       state; failure (here)
                network, keyring, not set up           (stays)      offline; again after a backoff (pipeline)
                anything else (disk full, a changed    failed       state; failure (here)
                original or spooled ciphertext)

The pipeline (:mod:`.pipeline`) runs :meth:`DeliveryJob.advance` under the document's
spool lock and owns only threads, the queue and the backoff.
"""

from __future__ import annotations

import errno
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, assert_never

from practice_client.core.errors import (
    NetworkError,
    NotConfigured,
    PlatformRefused,
    PracticeClientError,
    SecretError,
)
from practice_client.core.models import Document, DocumentState
from practice_client.core.text import Text
from practice_client.delivery import outbox
from practice_client.delivery.events import Alert, Connected, EventSink, Failure, Phase, Progress, StateChanged
from practice_client.delivery.key_check import KeyComparer
from practice_client.delivery.recipients import KeyChanged
from practice_client.delivery.seal import seal, sha256_file
from practice_client.delivery.spool import CIPHERTEXT, MANIFEST, Spool
from practice_client.delivery.terminations import Terminator
from practice_client.delivery.upload import (
    ENCRYPTED_ANEW,
    PART_DOCUMENT,
    PART_MANIFEST,
    STREAM_MIN_BYTES,
    CreateUploads,
    Parts,
    SendUploads,
    StreamUpload,
)

if TYPE_CHECKING:
    from practice_client.context import Context
    from practice_client.platform.api import PlatformClient

log = logging.getLogger(__name__)

PROGRESS_STEP = 0.01  # report progress in steps of at least 1 % ...
PROGRESS_SECONDS = 0.2  # ... or this often


@dataclass(frozen=True)
class Retry:
    """The document stays where it is; the pipeline tries again later (with backoff)."""

    reason: Text


@dataclass
class Dependencies:
    """What the machine works with, given by the pipeline (one set per pipeline)."""

    ctx: Context
    platform: Callable[[], PlatformClient]  # the client, built when first needed (may raise)
    platform_if_reachable: Callable[[], PlatformClient | None]  # for what never blocks delivery
    comparer: KeyComparer
    terminator: Terminator
    cancel: threading.Event
    emit: EventSink
    delivered: Callable[[], None]  # after each delivery (the audit checkpoint's cue)
    fresh: set[str] = field(default_factory=set)  # sealed by this process: no need to re-check


class _Progress:
    """Throttles progress callbacks (requests reads 16 KiB at a time) into events."""

    def __init__(self, emit: EventSink, document_id: str, phase: Phase) -> None:
        self._emit, self._id, self._phase = emit, document_id, phase
        self._last_done, self._last_time = -1, 0.0

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        if (done == total or done - self._last_done >= total * PROGRESS_STEP
                or now - self._last_time >= PROGRESS_SECONDS):
            self._last_done, self._last_time = done, now
            self._emit(Progress(self._id, self._phase, done, total))


def state_event(doc: Document) -> StateChanged:
    """What listeners are told of a document's new state."""
    return StateChanged(doc.document_id, doc.state, doc.size if doc.state is DocumentState.DELIVERED else 0,
                        doc.size)


class DeliveryJob:
    """One document as far as it goes now. MUST run under the document's spool lock."""

    def __init__(self, deps: Dependencies, document_id: str) -> None:
        self._deps = deps
        self._ctx = deps.ctx
        self._id = document_id
        self._fresh: frozenset[str] = frozenset()  # upload URLs created in this run: empty

    def advance(self) -> Retry | None:
        """Step the machine until it waits (for staff, the network, or nothing: done).
        A failure the document cannot get past is recorded here (``failed``)."""
        try:
            while (doc := self._current()) is not None:
                held = outbox.hold_if_key_changed(self._ctx, doc)
                if held is not None:  # re-pinned (also while gpg worked): sent to neither key
                    self._state(held)
                    return None
                match doc.state:
                    case DocumentState.MATCHED:
                        self._state(self._seal(doc))
                    case DocumentState.ENCRYPTED:
                        self._state(self._create_uploads(doc))
                    case DocumentState.UPLOADING:
                        self._state(self._send(doc))
                        self._deps.emit(Connected())
                    case DocumentState.DETECTED | DocumentState.UNASSIGNED | DocumentState.HELD:
                        return None  # the outbox's, on the watcher's or staff's input
                    case DocumentState.DELIVERED | DocumentState.FAILED:
                        return None  # done (a failed one until staff retry it)
                    case unknown:
                        assert_never(unknown)  # a new state must get its row above
        except KeyChanged as change:
            current = self._ctx.store.get_document(self._id)
            if current is not None:
                self._state(outbox.hold(self._ctx, current, change))
        except PlatformRefused as exc:
            self._fail(Text("Plattform lehnt ab: ", "the platform refused: ") + exc.text)
        except (NetworkError, NotConfigured, SecretError) as exc:
            if not self._deps.cancel.is_set():  # stopping: the row stays, the next start resumes
                return Retry(exc.text)
        except PracticeClientError as exc:
            self._fail(exc.text)
        except OSError as exc:
            if exc.errno == errno.ENOSPC:
                self._fail(outbox.DISK_FULL)
            else:
                self._fail(Text(f"Dateifehler: {exc.strerror}", f"file error: {exc.strerror}"))
        return None

    def _current(self) -> Document | None:
        """The row as it is now (read under the lock: the truth), unless stopping."""
        if self._deps.cancel.is_set():
            return None
        return self._ctx.store.get_document(self._id)

    # -- matched -> encrypted

    def _seal(self, doc: Document) -> Document:
        outbox.wake(self._ctx, doc.document_id)  # it waited (unassigned, failed) at rest
        stream = self._stream_for(doc)
        if stream is None and self._ctx.store.abandon_uploads(doc.document_id, ENCRYPTED_ANEW):
            self._deps.terminator.wake()  # an earlier sealing's uploads: never continued
        self._deps.emit(Progress(doc.document_id, Phase.ENCRYPTING, 0, doc.size))
        result = seal(self._ctx, doc, self._deps.platform_if_reachable(), self._deps.comparer,
                      _Progress(self._deps.emit, doc.document_id, Phase.ENCRYPTING), stream)
        if result.alert:
            self._deps.emit(Alert(Text.same(f"server key mismatch for document {doc.document_id}"),
                                  doc.document_id))
        self._deps.fresh.add(doc.document_id)
        return outbox.sealed(self._ctx, doc, result)

    def _stream_for(self, doc: Document) -> StreamUpload | None:
        """A large document is uploaded while gpg writes it (if the platform is reachable)."""
        if doc.size < STREAM_MIN_BYTES:
            return None
        client = self._deps.platform_if_reachable()
        if client is None:
            return None
        assert doc.request_id is not None
        return StreamUpload(self._ctx.store, client, doc.document_id, doc.request_id, self._deps.cancel,
                            self._deps.terminator.wake)

    # -- encrypted -> uploading

    def _create_uploads(self, doc: Document) -> Document:
        client = self._deps.platform()
        self._deps.terminator.drain(doc.document_id)  # an abandoned upload may be complete: gone first
        assert doc.request_id is not None
        created = CreateUploads(doc.document_id, doc.request_id, self._parts(doc),
                                self._ctx.store.uploads_of(doc.document_id)).run(client.tus)
        self._fresh = frozenset(created.values())
        return outbox.uploading(self._ctx, doc, created)

    # -- uploading -> delivered

    def _send(self, doc: Document) -> Document:
        if doc.document_id not in self._deps.fresh:
            # Resumed from an earlier run: the bytes must be the ones the receipt names,
            # or a resumed upload would splice two different ciphertexts.
            ciphertext = Spool.of(self._ctx).folder(doc.document_id) / CIPHERTEXT
            if not ciphertext.exists() or sha256_file(ciphertext) != doc.ciphertext_sha256:
                raise PracticeClientError(Text("Verschlüsselte Datei im Spool fehlt oder wurde verändert",
                                               "the spooled ciphertext is missing or changed"))
            self._deps.fresh.add(doc.document_id)
        client = self._deps.platform()
        self._deps.terminator.drain(doc.document_id)
        assert doc.request_id is not None

        def replaced(part: str, url: str) -> None:
            nonlocal doc
            doc = outbox.uploading(self._ctx, doc, {part: url}, attempt=False)

        SendUploads(doc.document_id, doc.request_id, self._parts(doc), self._ctx.store.uploads_of(doc.document_id),
                    self._fresh, self._deps.cancel,
                    _Progress(self._deps.emit, doc.document_id, Phase.UPLOADING)).run(client.tus, replaced)
        done = outbox.delivered(self._ctx, doc, doc.ciphertext_sha256 or "")
        self._deps.delivered()
        self._deps.fresh.discard(doc.document_id)
        return done

    def _parts(self, doc: Document) -> Parts:
        folder: Path = Spool.of(self._ctx).folder(doc.document_id)
        return (PART_MANIFEST, folder / MANIFEST), (PART_DOCUMENT, folder / CIPHERTEXT)

    # -- outcomes

    def _fail(self, reason: Text) -> None:
        doc = self._ctx.store.get_document(self._id)
        if doc is None or doc.state in (DocumentState.DELIVERED, DocumentState.FAILED):
            return
        failed = outbox.fail(self._ctx, doc, reason)
        self._deps.terminator.wake()  # its uploads were abandoned with the failure
        self._deps.fresh.discard(self._id)
        self._state(failed)
        self._deps.emit(Failure(Text.same(f"document {self._id} failed"), self._id))

    def _state(self, doc: Document) -> None:
        self._deps.emit(state_event(doc))
