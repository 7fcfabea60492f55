"""Signed audit checkpoints: the head of the audit chain, anchored outside the machine.

The keyed chain (:mod:`practice_client.core.audit`) stops anyone without the audit
key from rewriting or cutting the log. It cannot stop the whole home folder being put
back to an older copy (a backup, restored by malware or by someone covering a
delivery): log, head and database then agree with each other. So the platform keeps
the newest *checkpoint* of the log - ``{"version": 1, "practice_id", "seq", "link",
"created_at"}``, signed by the practice key - sent after decisions and deliveries, and
``audit verify --against-platform`` compares: a log that ends before the platform's
checkpoint, or holds another entry at its place, was rolled back or rewritten.

The platform learns how many entries the log has and an HMAC value that says nothing
without the audit key; it cannot forge a checkpoint (the practice key signs it), only
withhold the newest one - which makes the comparison weaker, never wrong.

Deliveries come in bursts: :class:`Anchor` sends from its own thread, at most one
checkpoint per :data:`MIN_INTERVAL_SECONDS`, always of the newest head, so a burst of
deliveries costs one signature and one call, and no delivery waits for either.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from practice_client.core.audit import now_iso
from practice_client.core.errors import InputError, NetworkError, PracticeClientError
from practice_client.core.text import Text
from practice_client.crypto.gpg import isolated

if TYPE_CHECKING:
    from practice_client.context import Context
    from practice_client.platform.api import PlatformClient

log = logging.getLogger(__name__)

MIN_INTERVAL_SECONDS = 1.0
ROLLED_BACK = Text(
    "Die Plattform hat einen neueren Protokoll-Prüfpunkt als dieses Protokoll - wurde der Datenordner aus einer "
    "älteren Kopie zurückgespielt? 'practice-client audit verify --against-platform' prüft es.",
    "The platform holds a newer audit checkpoint than this log: was the data folder restored from an older "
    "copy? Run 'practice-client audit verify --against-platform'.",
)


def make_checkpoint(ctx: Context) -> tuple[bytes, bytes, int]:
    """The current head as a checkpoint, its detached signature by the practice key, its seq."""
    head = ctx.store.audit_head()
    checkpoint = json.dumps(
        {"version": 1, "practice_id": ctx.config.practice_id, "seq": head.seq, "link": head.digest,
         "created_at": now_iso()}, sort_keys=True,
    ).encode("ascii")
    signature = ctx.gpg.sign(checkpoint, ctx.config.practice_key_fingerprint, ctx.practice_passphrase())
    return checkpoint, signature, head.seq


def send_checkpoint(
    ctx: Context, client: PlatformClient, on_refused: Callable[[Text], None] | None = None
) -> int | None:
    """Sign and send the current head; its seq, or None when it did not go out (logged,
    never raised: anchoring must not hold up a delivery or a decision). The platform
    refusing it means it holds a newer one - this log went back: ``on_refused(message)``
    tells staff."""
    try:
        checkpoint, signature, seq = make_checkpoint(ctx)
        kept = client.send_audit_checkpoint(checkpoint, signature)
    except PracticeClientError as exc:  # unreachable, or a platform that takes no checkpoints
        log.info("audit checkpoint not sent: %s", type(exc).__name__)
        return None
    if not kept:
        log.error("audit checkpoint of entry %d refused: the platform holds a newer one", seq)
        if on_refused is not None:
            on_refused(ROLLED_BACK)
        return None
    log.debug("audit checkpoint of entry %d sent", seq)
    return seq


def verify_against_platform(ctx: Context) -> Text:
    """Compare the (already verified) log with the platform's newest checkpoint; a
    one-line confirmation, or InputError naming the log and what is wrong."""
    with ctx.platform() as client:
        found = client.audit_checkpoint()
    if found is None:
        return Text("Die Plattform hat noch keinen Prüfpunkt", "the platform holds no checkpoint yet")
    data, signature = found
    practice = ctx.config.practice_key_fingerprint
    with isolated([ctx.gpg.export_public(practice)]) as gpg:
        check = gpg.verify_detached(data, signature)
    if not check.valid or (check.signer or "").upper() != practice.upper():
        raise NetworkError("the platform's audit checkpoint is not signed by the practice key: it was forged")
    try:
        record = json.loads(data)
        seq, link, practice_id = int(record["seq"]), str(record["link"]), str(record["practice_id"])
    except (ValueError, KeyError, TypeError):
        raise NetworkError("the platform's audit checkpoint is malformed") from None
    if practice_id != ctx.config.practice_id:
        raise NetworkError(f"the platform's audit checkpoint belongs to another practice ({practice_id})")
    head = ctx.store.audit_head()
    if seq > head.seq:
        raise InputError(ctx.home.audit, (
            f"the platform holds a checkpoint of entry {seq} (signed {record.get('created_at', '?')}), "
            f"but the log ends at entry {head.seq}: the folder was rolled back to an older copy"))
    if ctx.store.audit_link(seq) != link:
        raise InputError(ctx.home.audit, f"entry {seq} differs from the platform's checkpoint: the log was rewritten")
    signed = record.get("created_at", "?")
    return Text(f"Prüfpunkt der Plattform bestätigt: Eintrag {seq} von {head.seq} ({signed})",
                f"the platform's checkpoint matches: entry {seq} of {head.seq} ({signed})")


class Anchor:
    """Sends a checkpoint of the newest head after :meth:`poke`, from its own thread, at
    most once per ``interval``: a burst of pokes is one checkpoint."""

    def __init__(self, ctx: Context, client: Callable[[], PlatformClient],
                 on_refused: Callable[[Text], None] | None = None, interval: float = MIN_INTERVAL_SECONDS) -> None:
        self._ctx = ctx
        self._client = client
        self._on_refused = on_refused
        self._interval = interval
        self._wanted = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._sent_seq = 0

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="audit-anchor", daemon=True)
        self._thread.start()

    def poke(self) -> None:
        """Safe from any thread: the head moved (a delivery); send it soon."""
        self._wanted.set()

    def stop(self) -> None:
        """End without sending more (the next decision or delivery anchors what is new)."""
        self._stop.set()
        self._wanted.set()
        if self._thread is not None:
            self._thread.join(timeout=60)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wanted.wait()
            self._wanted.clear()
            if self._stop.is_set():
                return
            if self._ctx.store.audit_head().seq > self._sent_seq:
                try:
                    client = self._client()
                except PracticeClientError as exc:
                    log.info("audit checkpoint waits: %s", type(exc).__name__)
                else:
                    self._sent_seq = send_checkpoint(self._ctx, client, self._on_refused) or self._sent_seq
            self._stop.wait(self._interval)  # pacing: pokes meanwhile make one more checkpoint
