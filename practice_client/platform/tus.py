"""Resumable uploads as the official tus 1.0 servers implement them (tusd, @tus/server).

An upload lives at the URL the server names in the ``Location`` of the ``POST`` that
creates it; the client never builds an upload path. Every ``POST`` creates a new upload
(standard servers find nothing again by metadata), so exactly-once rests on the caller:

- :meth:`Tus.create` sends **no byte of the file**: the caller stores the URL durably
  (the outbox, in the transaction of the state change) before :meth:`Tus.send` sends
  the first byte. A crash in between leaves an empty upload, never a copy of the
  document; the platform's expiration removes it. ``creation-with-upload`` is not used:
  it sends bytes before the URL can be stored, so a crash after the server finished such
  an upload would leave a complete copy nobody can find again - and the next attempt
  would finish a second one.
- resume is a ``HEAD`` on the stored URL; 404/410 there means the upload is gone
  (:class:`UploadGone`): the caller creates a new one.
- an upload that is abandoned (another encryption, a failed document) is terminated
  (``DELETE``) by the caller's durable queue (:meth:`Tus.terminate`).

What the server says is checked, never just believed (a server that answers the
creation with ``Upload-Offset`` equal to the length must not get a document marked
delivered with no byte sent): a new upload must be empty; every ``PATCH`` answer must
acknowledge exactly the bytes sent; completion is confirmed against the declared length
(from the last ``PATCH`` answer, or a ``HEAD`` where the server leaves it out); and where
the server offers the ``checksum`` extension each ``PATCH`` carries the SHA-256 (or SHA-1)
of its body, which the server verifies before it keeps the bytes.

A file still being written (gpg's output) is streamed as it grows
(``creation-defer-length``): its length is declared by the PATCH that reaches its end.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO
from urllib.parse import urljoin, urlsplit

import requests

from practice_client.core.errors import InputError, NetworkError, PlatformRefused
from practice_client.platform.http import (
    BLOCK_SIZE,
    Cancelled,
    HttpSession,
    SourceShrunk,
    Transient,
    UploadCancelled,
)
from practice_client.platform.ids import PARTS, valid_platform_id

log = logging.getLogger(__name__)

ENDPOINT = "/v1/uploads"
TUS_HEADERS = {"Tus-Resumable": "1.0.0"}
OFFSET_TYPE = "application/offset+octet-stream"
CHECKSUMS = ("sha256", "sha1")  # what the client sends, in order of preference (hashlib names)
GROWING_MIN_BYTES = 8 * 1024 * 1024  # a growing file is sent once this much is new ...
GROWING_MAX_BYTES = 64 * 1024 * 1024  # ... in PATCHes of at most this (small rest at the end)
GROWING_POLL_SECONDS = 0.01
MAX_UPLOAD_BYTES = 16 * 1024**3  # what an offset may plausibly be
GONE = (404, 410)


class UploadGone(NetworkError):
    """The stored upload URL no longer exists on the platform (404/410): create a new one."""


class NoTermination(NetworkError):
    """The platform does not offer tus ``termination``: abandoned uploads stay until it
    expires them."""


@dataclass(frozen=True)
class UploadState:
    """What the server holds of one upload (``HEAD``)."""

    offset: int
    length: int | None  # None: deferred, not declared yet

    @property
    def complete(self) -> bool:
        return self.length is not None and self.offset == self.length


@dataclass(frozen=True)
class Capabilities:
    """The server's answer to ``OPTIONS``: its tus extensions and the checksum it verifies."""

    extensions: frozenset[str]
    checksum: str | None


@dataclass(frozen=True)
class _Ack:
    """A PATCH answer: the offset it acknowledges, the length where it states it."""

    offset: int
    length: int | None
    deferred: bool


class _FileSlice:
    """A read-only, sized view of part of a file, read block by block: requests sends it
    with a Content-Length and never holds more than one block in memory."""

    def __init__(
        self, path: Path, handle: IO[bytes], length: int, on_read: Callable[[int], None],
        cancel: threading.Event | None,
    ) -> None:
        self._path = path
        self._handle = handle
        self._length = length
        self._left = length
        self._on_read = on_read
        self._cancel = cancel

    def __len__(self) -> int:
        return self._length

    def read(self, size: int = -1) -> bytes:
        if self._cancel is not None and self._cancel.is_set():
            raise Cancelled
        want = self._left if size is None or size < 0 else min(size, self._left)
        data = self._handle.read(want)
        if want and not data:
            raise SourceShrunk(str(self._path))
        self._left -= len(data)
        if data:
            self._on_read(len(data))
        return data


def upload_metadata(document_id: str, part: str, request_id: str) -> str:
    """The ``Upload-Metadata`` of an upload: what a platform's finish hook files it by."""
    def b64(text: str) -> str:
        return base64.b64encode(text.encode()).decode()

    return f"document_id {b64(document_id)},part {b64(part)},request_id {b64(request_id)}"


def _digest(handle: IO[bytes], offset: int, count: int, algorithm: str) -> str:
    """``Upload-Checksum`` value of ``count`` bytes at ``offset`` (read block by block)."""
    digest = hashlib.new(algorithm)
    handle.seek(offset)
    left = count
    while left:
        block = handle.read(min(BLOCK_SIZE, left))
        if not block:
            break  # the body read will report the shrunk file
        digest.update(block)
        left -= len(block)
    return f"{algorithm} {base64.b64encode(digest.digest()).decode('ascii')}"


def _header_int(response: requests.Response, name: str) -> int | None:
    raw = response.headers.get(name)
    if raw is None:
        return None
    if not raw.isdigit() or int(raw) > MAX_UPLOAD_BYTES:
        raise PlatformRefused(f"{response.request.method} {urlsplit(response.url).path}: "
                              f"the platform sent an invalid {name}")
    return int(raw)


def _state_of(response: requests.Response) -> UploadState:
    offset = _header_int(response, "Upload-Offset")
    if offset is None:
        raise PlatformRefused(f"HEAD {urlsplit(response.url).path}: no Upload-Offset")
    deferred = response.headers.get("Upload-Defer-Length") == "1"
    length = None if deferred else _header_int(response, "Upload-Length")
    if not deferred and length is None:
        raise PlatformRefused(f"HEAD {urlsplit(response.url).path}: no Upload-Length")
    if length is not None and offset > length:
        raise PlatformRefused(f"HEAD {urlsplit(response.url).path}: Upload-Offset beyond Upload-Length")
    return UploadState(offset, length)


class Tus:
    """The tus protocol on one platform's :class:`HttpSession` (its retries, timeouts), in
    PATCHes of at most ``max_patch_bytes``. Thread-safe; the server's capabilities are
    asked once."""

    def __init__(self, http: HttpSession, *, max_patch_bytes: int) -> None:
        self._http = http
        self._max_patch_bytes = max_patch_bytes
        self._capabilities: Capabilities | None = None
        self._lock = threading.Lock()

    # --- what the server offers ------------------------------------------------------

    def capabilities(self) -> Capabilities:
        """``OPTIONS`` once per client."""
        with self._lock:
            if self._capabilities is None:
                response = self._http.retrying("tus options", lambda: self._http.send(
                    "OPTIONS", ENDPOINT, expect=(200, 204)))
                extensions = frozenset(
                    e.strip() for e in response.headers.get("Tus-Extension", "").split(",") if e.strip())
                offered = {a.strip().lower() for a in
                           response.headers.get("Tus-Checksum-Algorithm", "").split(",")}
                checksum = next((a for a in CHECKSUMS if a in offered), None)
                self._capabilities = Capabilities(
                    extensions, checksum if "checksum" in extensions else None)
            return self._capabilities

    def offers(self, *extensions: str) -> bool:
        return set(extensions) <= self.capabilities().extensions

    # --- creation ---------------------------------------------------------------------

    def create(self, *, document_id: str, part: str, request_id: str, length: int | None) -> str:
        """``POST`` a new, empty upload and return its URL (a path on the platform). The
        caller MUST store the URL durably before :meth:`send` sends the first byte.
        ``length`` None: deferred (a file still being written; ``creation-defer-length``)."""

        for value in (document_id, request_id):
            if not valid_platform_id(value):
                raise ValueError(f"not a valid platform id: {value[:80]!r}")
        if part not in PARTS:
            raise ValueError(f"part must be one of {PARTS}")

        headers = {**TUS_HEADERS, "Upload-Metadata": upload_metadata(document_id, part, request_id)}
        if length is None:
            headers["Upload-Defer-Length"] = "1"
        else:
            headers["Upload-Length"] = str(length)
        # A POST whose answer is lost is sent again: the first one then left an empty upload
        # nobody knows, which the platform's expiration removes - never a second copy.
        response = self._http.retrying(f"create upload {document_id}.{part}", lambda: self._http.send(
            "POST", ENDPOINT, expect=(201,), transient=(423,), headers=headers))
        url = self._own_url(response.headers.get("Location", ""))
        claimed = _header_int(response, "Upload-Offset")
        if claimed:
            raise PlatformRefused(f"POST {ENDPOINT}: the platform claims {claimed} bytes of an upload "
                                  "it has just created, before any were sent")
        return url

    def _own_url(self, location: str) -> str:
        """The upload URL as a path of the platform; anything on another origin (where the
        token would go) or outside the upload endpoint is refused."""
        base = urlsplit(self._http.base_url)
        target = urlsplit(urljoin(self._http.base_url + "/", location)) if location else None
        if (target is None or (target.scheme, target.netloc) != (base.scheme, base.netloc)
                or not target.path.startswith(base.path + ENDPOINT + "/") or target.fragment
                or target.path.rstrip("/") == base.path + ENDPOINT):
            raise PlatformRefused(f"POST {ENDPOINT}: the platform named an upload URL outside "
                                  f"{self._http.base_url}{ENDPOINT}/")
        path = target.path[len(base.path):]
        return path + (f"?{target.query}" if target.query else "")

    # --- state, sending ---------------------------------------------------------------

    def state(self, url: str) -> UploadState:
        """``HEAD``: the server's offset and length; :class:`UploadGone` on 404/410."""
        return self._http.retrying(f"upload state {url}", lambda: self._head(url))

    def _head(self, url: str) -> UploadState:
        response = self._http.send("HEAD", url, expect=(200, 204, *GONE), transient=(423,),
                                      headers=TUS_HEADERS)
        if response.status_code in GONE:
            raise UploadGone(f"HEAD {url}: the upload is gone ({response.status_code})")
        return _state_of(response)

    def send(
        self, url: str, path: Path, *, fresh: bool = False,
        progress: Callable[[int, int], None] | None = None, cancel: threading.Event | None = None,
    ) -> None:
        """Bring the upload at ``url`` to completion with the bytes of ``path``, from the
        server's offset (``fresh``: just created, so it is empty - no ``HEAD`` first).
        Returns once the server has confirmed the whole length. :class:`UploadGone` when
        the upload no longer exists. ``progress(done, total)`` is called as blocks go out;
        ``cancel`` stops at the next block. MUST NOT be called from a GUI thread."""
        try:
            size = path.stat().st_size
        except OSError as exc:
            raise InputError(path, f"cannot read: {exc.strerror}") from None
        report = progress or (lambda done, total: None)
        retry = self._http.retry
        state: UploadState | None = UploadState(0, size) if fresh else None
        failures, stalled_at, offset = 0, -1, -1
        while True:
            if cancel is not None and cancel.is_set():
                raise UploadCancelled(f"upload {url}: cancelled")
            try:
                # After a failure nothing the client believes is trusted: ask the server.
                if state is None:
                    state = self._head(url)
                if state.length not in (None, size) or state.offset > size:
                    raise PlatformRefused(f"HEAD {url}: the platform's upload does not fit this file "
                                          f"({state.offset} of {state.length}, the file has {size})")
                offset = state.offset
                if offset > stalled_at:
                    failures = 0  # the server got further since the last failure: fresh budget
                report(offset, size)
                if state.complete:
                    return
                # a deferred length is declared (by the PATCH that reaches the end, at the latest)
                ack = self._patch(url, path, offset, size, report, cancel,
                                  count=min(size - offset, self._max_patch_bytes),
                                  declare=size if state.length is None else None)
                if ack.offset == size and not ack.deferred and ack.length is None:
                    state = self._head(url)  # the answer left the length out: confirm it
                else:
                    state = UploadState(ack.offset, None if ack.deferred else size)
            except Transient as exc:
                failures += 1
                stalled_at = offset
                state = None
                if failures >= retry.attempts:
                    raise NetworkError(f"{exc} - gave up after {failures} attempts") from None
                log.info("upload %s: %s; resuming (attempt %d of %d)", url, exc, failures + 1, retry.attempts)
                self._http.wait(failures, cancel)

    def send_growing(
        self, url: str, path: Path, *, finished: threading.Event, cancel: threading.Event | None = None,
    ) -> int:
        """Send ``path`` to the deferred-length upload at ``url`` (created empty) while another
        process is still writing it, as far as it is written when ``finished`` is set;
        returns the bytes the server holds. The length stays deferred: :meth:`send` sends
        the rest and declares it once the file is complete. Best effort: any failure just
        ends the streaming (:meth:`send` goes on from the server's offset)."""
        offset = 0
        handle = None
        try:
            while handle is None:
                try:
                    handle = path.open("rb")
                except FileNotFoundError:
                    if finished.wait(GROWING_POLL_SECONDS):
                        return offset
            while not (cancel is not None and cancel.is_set()):
                done = finished.is_set()
                ready = os.fstat(handle.fileno()).st_size - offset
                if ready >= GROWING_MIN_BYTES or (done and ready > 0):
                    ready = min(ready, GROWING_MAX_BYTES)
                    offset = self._patch(url, path, offset, MAX_UPLOAD_BYTES, lambda d, t: None, cancel,
                                         count=ready, handle=handle).offset
                elif done:
                    break
                else:
                    finished.wait(GROWING_POLL_SECONDS)
        except (Transient, NetworkError, OSError) as exc:
            log.info("upload %s: streaming stopped at %d bytes (%s)", url, offset, exc)
        finally:
            if handle is not None:
                handle.close()
        return offset

    def _patch(
        self, url: str, path: Path, offset: int, size: int, report: Callable[[int, int], None],
        cancel: threading.Event | None, *, count: int, declare: int | None = None,
        handle: IO[bytes] | None = None,
    ) -> _Ack:
        """Send ``count`` bytes at ``offset`` (from ``handle`` if given); ``declare`` a
        deferred length. Returns the state the server acknowledges, which must be exactly
        ``offset + count``: a server that claims more than it was sent is refused."""
        done = offset

        def on_read(nbytes: int) -> None:
            nonlocal done
            done += nbytes
            report(done, size)

        headers = {**TUS_HEADERS, "Upload-Offset": str(offset), "Content-Type": OFFSET_TYPE}
        if declare is not None:
            headers["Upload-Length"] = str(declare)
        algorithm = self.capabilities().checksum
        with contextlib.ExitStack() as stack:
            if handle is None:
                handle = stack.enter_context(path.open("rb"))
            if algorithm is not None and count:
                headers["Upload-Checksum"] = _digest(handle, offset, count, algorithm)
            handle.seek(offset)
            body = _FileSlice(path, handle, count, on_read, cancel)
            # 460: the checksum did not match what arrived (damaged on the way): send again
            response = self._http.send("PATCH", url, expect=(200, 204, *GONE),
                                          transient=(409, 423, 460), data=body, sent_bytes=count,
                                          headers=headers)
        response.close()
        if response.status_code in GONE:
            raise UploadGone(f"PATCH {url}: the upload is gone ({response.status_code})")
        acknowledged = _header_int(response, "Upload-Offset")
        if acknowledged is None:
            raise Transient(f"PATCH {url}: no Upload-Offset in the answer")
        if acknowledged != offset + count:
            raise PlatformRefused(f"PATCH {url}: the platform acknowledged offset {acknowledged} after "
                                  f"{count} bytes sent at {offset}")
        deferred = response.headers.get("Upload-Defer-Length") == "1"
        length = None if deferred else _header_int(response, "Upload-Length")
        if length is not None and length != (declare or size):
            raise PlatformRefused(f"PATCH {url}: the platform's upload has length {length}, not {size}")
        return _Ack(acknowledged, length, deferred)

    # --- termination --------------------------------------------------------------------

    def terminate(self, url: str) -> None:
        """``DELETE`` (tus ``termination``) an abandoned upload; gone already is fine.
        :class:`NoTermination` where the server does not offer it."""
        if not self.offers("termination"):
            raise NoTermination(f"DELETE {url}: the platform offers no upload termination")
        self._http.retrying(f"terminate {url}", lambda: self._http.send(
            "DELETE", url, expect=(200, 204, *GONE), transient=(423,), headers=TUS_HEADERS))

    # --- one-shot --------------------------------------------------------------------------

    def upload(self, path: Path, *, document_id: str, part: str, request_id: str,
               on_created: Callable[[str], None] | None = None,
               progress: Callable[[int, int], None] | None = None,
               cancel: threading.Event | None = None) -> str:
        """Create an upload and send ``path`` to it; ``on_created(url)`` runs between the two
        (where a caller stores the URL). Returns the URL."""
        url = self.create(document_id=document_id, part=part, request_id=request_id,
                          length=path.stat().st_size)
        if on_created is not None:
            on_created(url)
        self.send(url, path, fresh=True, progress=progress, cancel=cancel)
        return url
