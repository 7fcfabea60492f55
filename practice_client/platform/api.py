"""The platform API - the only way the client talks to the platform.

:class:`PlatformClient` is the API's calls over one :class:`~practice_client.platform.http.HttpSession`
(HTTPS only, verification always on, SPKI pins, capped answers, retries: see
:mod:`practice_client.platform.http`). Uploads (tus 1.0, at the URLs the server names)
are :mod:`practice_client.platform.tus`, on the same session (:attr:`PlatformClient.tus`).
The client for the configured platform is built by
:meth:`practice_client.context.Context.platform` (one place, a named profile); tests and
the testbed build their own. One client may be shared by worker threads.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import threading
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

from practice_client.core.errors import NetworkError
from practice_client.platform.http import HttpSession, RetryPolicy, Timeouts
from practice_client.platform.ids import PARTS, path_segment
from practice_client.platform.proxy import ProxyResolver
from practice_client.platform.shares import ShareListing, download, list_shares, send_receipt
from practice_client.platform.tus import Tus

FINGERPRINT_RE = re.compile(r"^[0-9A-F]{40}$")
MAX_PATCH_BYTES = 64 * 1024 * 1024  # one PATCH at most: the server checkpoints in between
AUDIT_CHECKPOINT_PATH = "/v1/practice/audit-checkpoint"
MAX_CHECKPOINT_BYTES = 64 * 1024  # a checkpoint and its signature are a few hundred bytes
MAX_INBOX_BYTES = 64 * 1024 * 1024  # one inbox page (request messages are at most 2 MiB each)
MAX_DOWNLOAD_BYTES = 256 * 1024 * 1024  # default limit of download()


class PlatformClient:
    """The platform API over HTTPS. Use as a context manager (closes the session)."""

    def __init__(
        self, base_url: str, token: str, ca_file: Path | None = None,
        spki_pin: str | None = None, *, spki_pins: Sequence[str] = (),
        proxy: ProxyResolver | None = None, retry: RetryPolicy | None = None,
        timeouts: Timeouts | None = None, max_patch_bytes: int = MAX_PATCH_BYTES,
        stopping: threading.Event | None = None,
    ) -> None:
        self.http = HttpSession(
            base_url, token, ca_file=ca_file, pins=[*spki_pins, *([spki_pin] if spki_pin else [])],
            proxy=proxy, retry=retry or RetryPolicy(), timeouts=timeouts or Timeouts(),
            stopping=stopping,
        )
        self.max_patch_bytes = max_patch_bytes
        self._tus: Tus | None = None

    @property
    def base_url(self) -> str:
        return self.http.base_url

    @property
    def retry(self) -> RetryPolicy:
        return self.http.retry

    @property
    def timeouts(self) -> Timeouts:
        return self.http.timeouts

    def close(self) -> None:
        self.http.close()

    @property
    def tus(self) -> Tus:
        """The upload protocol on this client's session (one per client: it remembers the
        server's tus extensions)."""
        if self._tus is None:
            self._tus = Tus(self.http, max_patch_bytes=self.max_patch_bytes)
        return self._tus

    def __enter__(self) -> PlatformClient:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # --- the API -------------------------------------------------------------------------

    def inbox(self, after: str | None) -> tuple[list[bytes], str | None]:
        """New request messages (raw RFC 5322 bytes) after ``after``, and the cursor to
        pass next time (unchanged when there is nothing new). The platform answers in
        pages: call again with the new cursor while messages keep coming."""
        params = {"after": after} if after else {}

        def fetch() -> tuple[list[bytes], str | None]:
            response = self.http.send("GET", "/v1/inbox", expect=(200,), params=params,
                                  max_bytes=MAX_INBOX_BYTES)
            try:
                body = response.json()
                messages = [base64.b64decode(m["raw"], validate=True) for m in body["messages"]]
                cursor = body.get("cursor")
            except (ValueError, KeyError, TypeError, binascii.Error):
                raise NetworkError("GET /v1/inbox: the platform sent a malformed answer") from None
            if cursor is not None and not isinstance(cursor, str):
                raise NetworkError("GET /v1/inbox: the platform sent a malformed cursor")
            return messages, cursor

        return self.http.retrying("inbox", fetch)

    def send_decision(self, request_id: str, decision: str, reason: str) -> None:
        """Tell the platform that a request is accepted or declined (idempotent)."""
        if decision not in ("accepted", "declined"):
            raise ValueError(f"decision must be 'accepted' or 'declined', not {decision!r}")
        path = f"/v1/requests/{self._id(request_id)}/decision"
        body = {"decision": decision, "reason": reason}
        self.http.retrying(
            f"decision {request_id}",
            lambda: self.http.send("POST", path, expect=(200, 201, 204), json=body),
        )

    def patient_key(self, fingerprint: str) -> str | None:
        """The server's copy of a patient key (to compare, never to trust); None if none."""
        fpr = fingerprint.upper()
        if not FINGERPRINT_RE.match(fpr):
            raise ValueError("not a 40-digit fingerprint")
        response = self.http.retrying(
            f"patient key {fpr}",
            lambda: self.http.send("GET", f"/v1/patients/{fpr}/key", expect=(200, 404)),
        )
        return None if response.status_code == 404 else response.text

    def register_practice_key(self, armored: str) -> None:
        """``PUT /v1/practice/key`` with the practice's ASCII-armored public key."""
        data = armored.encode("utf-8")
        self.http.retrying(
            "register practice key",
            lambda: self.http.send(
                "PUT", "/v1/practice/key", expect=(200, 201, 204), data=data,
                headers={"Content-Type": "application/pgp-keys"}, sent_bytes=len(data),
            ),
        )

    def send_audit_checkpoint(self, checkpoint: bytes, signature: bytes) -> bool:
        """``PUT /v1/practice/audit-checkpoint``: the signed head of the audit chain (see
        :mod:`practice_client.crypto.checkpoint`). The platform keeps the newest; sending
        the same again is a no-op. False: it refused it for an older one than it holds (409)."""
        body = {"checkpoint": checkpoint.decode("ascii"), "signature": signature.decode("ascii")}
        response = self.http.retrying(
            "audit checkpoint",
            lambda: self.http.send("PUT", AUDIT_CHECKPOINT_PATH, expect=(200, 201, 204, 409), json=body),
        )
        return response.status_code != 409

    def audit_checkpoint(self) -> tuple[bytes, bytes] | None:
        """The newest checkpoint the platform holds (checkpoint, signature), or None."""
        response = self.http.retrying(
            "audit checkpoint",
            lambda: self.http.send("GET", AUDIT_CHECKPOINT_PATH, expect=(200, 404), max_bytes=MAX_CHECKPOINT_BYTES),
        )
        if response.status_code == 404:
            return None
        try:
            body = json.loads(response.content)
            return body["checkpoint"].encode("ascii"), body["signature"].encode("ascii")
        except (ValueError, KeyError, TypeError, AttributeError, UnicodeEncodeError):
            raise NetworkError("GET /v1/practice/audit-checkpoint: the platform sent a malformed answer") from None

    def download(self, document_id: str, part: str = "document",
                 max_bytes: int = MAX_DOWNLOAD_BYTES) -> bytes:
        """The ciphertext of a delivered document (what the patient's app fetches), at most
        ``max_bytes``."""
        if part not in PARTS:
            raise ValueError(f"part must be one of {PARTS}")
        suffix = "" if part == "document" else "/manifest"
        path = f"/v1/documents/{self._id(document_id)}{suffix}"
        return self.http.retrying(
            f"download {document_id}",
            lambda: self.http.send("GET", path, expect=(200,), max_bytes=max_bytes).content,
        )

    @staticmethod
    def _id(value: str) -> str:
        return path_segment(value)

    # --- shares: documents patients share with the practice (platform/shares.py) -------

    def shares(self, after: str | None) -> tuple[list[ShareListing], str | None]:
        """``GET /v1/shares``: see :func:`practice_client.platform.shares.list_shares`."""
        return list_shares(self.http, after)

    def download_share(self, share_id: str, part: str, target: Path, size: int, max_bytes: int,
                       cancel: threading.Event | None = None) -> None:
        """A share's part streamed to ``target``: see :func:`practice_client.platform.shares.download`."""
        download(self.http, share_id, part, target, size, max_bytes, cancel)

    def send_share_receipt(self, share_id: str, status: str) -> None:
        """``POST /v1/shares/{id}/receipt``: see :func:`practice_client.platform.shares.send_receipt`."""
        send_receipt(self.http, share_id, status)
