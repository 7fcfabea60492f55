"""The one inbox all request sources feed: store first, then verify once, then record.

Sources (:mod:`practice_client.intake.sources`) get :meth:`Inbox.receive` as their
``deliver`` and :meth:`Inbox.process_pending` as their ``settle``.

Order matters for crash safety: the raw message is stored (sealed, de-duplicated
by its SHA-256) *before* anything else happens, so a source may delete or move
it on its side as soon as :meth:`Inbox.receive` returns. Verification results are
recorded in a second step; messages stored but not yet recorded (a crash in
between, or a DNS outage that made the DKIM check impossible) are verified again
on the next :meth:`Inbox.process_pending` - for up to :data:`DNS_PATIENCE`; a message
whose DKIM key stayed out of reach that long is recorded as rejected, with the reason,
so staff see it instead of a request that silently never arrives.

The same request may arrive twice with different bytes (by e-mail and through the
platform API, mail servers add headers): when the request JSON is exactly the one
already recorded, the message is kept as a duplicate delivery, not reported as a
replay. A different message carrying a known request id *is* a replay.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from practice_client.core.audit import now_iso
from practice_client.core.models import RequestRecord, RequestStatus, Verdict
from practice_client.core.store import MAX_MESSAGE_BYTES, StoredMessage
from practice_client.intake.dkim_check import DnsFunc, dns_gave_up, dns_resolver
from practice_client.intake.mail_file import is_reconstructed
from practice_client.intake.message import FormatProblem, parse_message
from practice_client.intake.verify import Verification, verify_message

if TYPE_CHECKING:
    from practice_client.context import Context

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
DNS_PATIENCE = timedelta(hours=24)


def utc_now() -> datetime:
    return datetime.now(UTC)


class Inbox:
    """Receives raw messages from any source; thread-safe (one verification at a time)."""

    def __init__(self, ctx: Context, dnsfunc: DnsFunc | None = None, clock: Clock = utc_now) -> None:
        self.ctx = ctx
        self._dnsfunc = dnsfunc
        self._clock = clock
        self._lock = threading.Lock()

    @property
    def dnsfunc(self) -> DnsFunc:
        return self._dnsfunc or dns_resolver(self.ctx.config.dns_server)

    def receive(self, raw: bytes, source: str) -> int:
        """Store ``raw`` durably, then verify what is pending. Returns the number of new
        requests recorded. When this returns, the caller may discard its copy.

        Size first: a message over :data:`MAX_MESSAGE_BYTES` is not kept, parsed or
        checked; only its digest is recorded, with a rejected request saying why."""
        if len(raw) > MAX_MESSAGE_BYTES:
            return self._refuse_oversized(raw, source)
        digest, new = self.ctx.store.store_message(raw, source)
        log.debug("message %s from %s (%s)", digest[:12], source, "new" if new else "known")
        return self.process_pending()

    def _refuse_oversized(self, raw: bytes, source: str) -> int:
        digest = hashlib.sha256(raw).hexdigest()
        result = verify_message(raw, config=self.ctx.config, store=self.ctx.store,
                                dnsfunc=self.dnsfunc, now=self._clock())
        with self._lock:
            recorded = self.ctx.store.add_oversized_message(record_for(result, digest, source), source, len(raw))
        log.warning("message %s from %s: %d bytes, too large; recorded as rejected", digest[:12], source, len(raw))
        return int(recorded)

    def process_pending(self) -> int:
        """Verify and record every stored message that has no verdict yet."""
        recorded = 0
        with self._lock:
            for message in self.ctx.store.unprocessed_messages():
                if self._process(message):
                    recorded += 1
        return recorded

    def _process(self, message: StoredMessage) -> bool:
        store = self.ctx.store
        digest, source, raw = message.sha256, message.source, message.raw
        if self._duplicate_of_recorded(raw):
            store.mark_message_duplicate(digest)
            return False
        now = self._clock()
        result = verify_message(raw, config=self.ctx.config, store=store, dnsfunc=self.dnsfunc, now=now,
                                reconstructed=is_reconstructed(source))
        if result.temporary:
            if now - message.received_at < DNS_PATIENCE:
                log.info("message %s: DKIM not checkable now (DNS); will verify again", digest[:12])
                return False
            log.warning("message %s: no DNS answer for %s; recorded as rejected", digest[:12], DNS_PATIENCE)
            hours = int(DNS_PATIENCE.total_seconds() // 3600)
            result = dataclasses.replace(result, temporary=False, checks=[
                dns_gave_up(hours) if c.name == "dkim" else c for c in result.checks])
        store.add_request(record_for(result, digest, source))
        log.info("request %s from %s: %s", result.request_id or digest[:12], source, result.verdict)
        return True

    def _duplicate_of_recorded(self, raw: bytes) -> bool:
        try:
            request = parse_message(raw).request
        except FormatProblem:
            return False
        existing = self.ctx.store.get_request(request.request_id)
        return (
            existing is not None
            and existing.status is not RequestStatus.REJECTED  # a forged copy must not shadow the real one
            and existing.summary == request.data
        )


def record_for(result: Verification, digest: str, source: str) -> RequestRecord:
    """The store's record of a verified message; unparseable messages get a placeholder id."""
    status = RequestStatus.REJECTED if result.verdict is Verdict.REJECTED else RequestStatus.OPEN
    return RequestRecord(
        request_id=result.request_id or f"invalid-{digest[:32]}",
        message_sha256=digest,
        received_at=now_iso(),
        source=source,
        verdict=result.verdict,
        checks=result.checks,
        status=status,
        patient_fingerprint=result.patient_fingerprint,
        patient_number=result.patient_number,
        summary=result.request or {},
        expires_at=result.expires_at,
    )

