"""The platform's shares API: documents patients share with the practice.

``GET /v1/shares`` lists what is new (an id and two sizes - the platform knows nothing
else), ``GET /v1/shares/{id}`` and ``/manifest`` are opaque OpenPGP messages, streamed to
disk and resumed with ``Range`` after any interruption, ``POST /v1/shares/{id}/receipt``
confirms. All of it on the caller's :class:`~practice_client.platform.http.HttpSession`,
so its pins, caps and retry profile apply. What a share holds is decided by
:mod:`practice_client.shares`, never here.
"""

from __future__ import annotations

import os
import re
import threading
from dataclasses import dataclass
from pathlib import Path

import requests

from practice_client.core.atomic import fsync_dir
from practice_client.core.errors import NetworkError
from practice_client.platform.http import BLOCK_SIZE, AnswerTooLarge, HttpSession, Transient, UploadCancelled
from practice_client.platform.ids import PARTS, path_segment, valid_platform_id

_CONTENT_RANGE = re.compile(r"^bytes (\d+)-(\d+)/(\d+)$")


@dataclass(frozen=True)
class ShareListing:
    """One entry of ``GET /v1/shares``: an id and two sizes."""

    share_id: str
    size: int
    manifest_size: int

    def valid(self) -> bool:
        sizes = (self.size, self.manifest_size)
        return valid_platform_id(self.share_id) and all(
            isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in sizes)


def list_shares(http: HttpSession, after: str | None) -> tuple[list[ShareListing], str | None]:
    """Shares listed after ``after`` and the cursor to pass next time. Call again with the
    new cursor while shares keep coming (pages)."""
    params = {"after": after} if after else {}

    def fetch() -> tuple[list[ShareListing], str | None]:
        response = http.send("GET", "/v1/shares", expect=(200,), params=params)
        try:
            body = response.json()
            listed = [ShareListing(str(s["id"]), s["size"], s["manifest_size"]) for s in body["shares"]]
            cursor = body.get("cursor")
        except (ValueError, KeyError, TypeError, AttributeError):
            raise NetworkError("GET /v1/shares: the platform sent a malformed answer") from None
        if (cursor is not None and not isinstance(cursor, str)) or not all(map(ShareListing.valid, listed)):
            raise NetworkError("GET /v1/shares: the platform sent a malformed answer")
        return listed, cursor

    return http.retrying("shares", fetch)


def download(http: HttpSession, share_id: str, part: str, target: Path, size: int, max_bytes: int,
             cancel: threading.Event | None = None) -> None:
    """Stream a share's part (``document`` / ``manifest``) to ``target``: exactly ``size``
    bytes (the listing's), refused above ``max_bytes`` before a byte is fetched.

    The bytes go to ``target`` + ``.part`` first, which is kept: an interrupted download
    (a cut connection, a crash, a kill) resumes from its end with ``Range: bytes=N-``;
    a server that answers the whole file again (200) starts it over. Only a complete
    part is renamed to ``target`` (fsync'd), so ``target`` existing means complete.
    Memory does not grow with the size."""
    if part not in PARTS:
        raise ValueError(f"part must be one of {PARTS}")
    if size > max_bytes:
        raise AnswerTooLarge(f"share {share_id}: {size} bytes is larger than the limit of {max_bytes} bytes")
    path = f"/v1/shares/{path_segment(share_id)}" + ("" if part == "document" else "/manifest")
    partial = target.with_name(target.name + ".part")
    stop = cancel or threading.Event()

    def fetch() -> None:
        have = partial.stat().st_size if partial.exists() else 0
        if have > size:
            partial.unlink()
            have = 0
        if have < size:
            headers = {"Range": f"bytes={have}-"} if have else {}
            http.send("GET", path, expect=(200, 206, 416), headers=headers, sent_bytes=size - have,
                      sink=lambda response: _store_part(response, partial, have, size, stop, path))
        if partial.stat().st_size != size:  # a 416, or a body that ended early: again
            raise Transient(f"GET {path}: {partial.stat().st_size} of {size} bytes so far")
        partial.replace(target)
        fsync_dir(target.parent)

    partial.touch(mode=0o600, exist_ok=True)
    http.retrying(f"download share {share_id}", fetch)


def send_receipt(http: HttpSession, share_id: str, status: str) -> None:
    """``POST /v1/shares/{id}/receipt`` (idempotent): ``accepted`` or ``refused``."""
    if status not in ("accepted", "refused"):
        raise ValueError(f"status must be 'accepted' or 'refused', not {status!r}")
    path = f"/v1/shares/{path_segment(share_id)}/receipt"
    http.retrying(f"receipt {share_id}",
                  lambda: http.send("POST", path, expect=(200, 201, 204), json={"status": status}))


def _store_part(response: requests.Response, partial: Path, have: int, size: int,
                cancel: threading.Event, what: str) -> None:
    """Append the body to ``partial``: a 206 must continue exactly at ``have`` for the
    declared total, a 200 replaces what was there; never more than ``size`` bytes kept.
    fsync'd before returning, so what is kept survives a power cut."""
    if response.status_code == 416:  # the server has no bytes past ``have``: start over
        response.close()
        partial.write_bytes(b"")
        return
    encoding = response.headers.get("Content-Encoding", "identity").strip().lower()
    if encoding not in ("", "identity"):
        response.close()
        raise NetworkError(f"GET {what}: the platform sent a compressed answer - refused")
    offset = 0
    if response.status_code == 206:
        match = _CONTENT_RANGE.match(response.headers.get("Content-Range", ""))
        if match is None or int(match[1]) != have or int(match[3]) != size:
            response.close()
            raise NetworkError(f"GET {what}: the platform answered another range than asked for - refused")
        offset = have
    with partial.open("r+b") as handle:
        handle.seek(offset)
        handle.truncate()
        written = offset
        for chunk in response.raw.stream(BLOCK_SIZE, decode_content=False):
            if cancel.is_set():
                response.close()
                raise UploadCancelled(f"GET {what}: cancelled")
            written += len(chunk)
            if written > size:
                response.close()
                raise AnswerTooLarge(f"GET {what}: the platform sent more than the {size} bytes it listed - refused")
            handle.write(chunk)
        handle.flush()
        os.fsync(handle.fileno())
    response._content, response._content_consumed = b"", True
