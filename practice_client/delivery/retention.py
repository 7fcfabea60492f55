"""Retention: how long the client keeps what finished work leaves behind.

The practice decides (settings, in days; 0 keeps for ever); the administrator can fix
each value by policy (:mod:`practice_client.core.policy`):

- ``keep_processed_days`` (30): delivered originals in the export folder's ``processed/``
  (with their GDT sidecars);
- ``keep_failed_days`` (90): originals of failed documents - in ``failed/`` (with sidecar
  and reason file), or sealed in the spool when they were sent from elsewhere;
- ``keep_messages_days`` (90): the raw bytes of request messages whose request is done
  (declined, rejected, or accepted and expired); the request, its checks and the
  message's digest stay (the record, and replay protection).

Each removal is audited (one entry per batch, with the document ids or message digests).
Crash-safe: files are removed first, the store records it after; a crash in between
leaves the rows marked as kept, and the next run finds the files gone and records it.
Every run looks only at what is due (indexed), so its cost does not grow with history.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from practice_client.core.models import Document, DocumentState
from practice_client.delivery.spool import FAILED, PROCESSED, Spool

if TYPE_CHECKING:
    from practice_client.context import Context

log = logging.getLogger(__name__)

BATCH = 200
INTERVAL_SECONDS = 3600.0  # the agent runs retention at start and then this often


class Removed(NamedTuple):
    """What one run removed: delivered and failed originals, raw messages."""

    processed: int
    failed: int
    messages: int


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")  # the store's format (audit.now_iso)


def run(ctx: Context, now: datetime | None = None) -> Removed:
    """Remove what is older than the practice keeps it. MUST NOT run in a GUI thread."""
    now = now or datetime.now(UTC)
    cfg = ctx.config
    removed = Removed(
        processed=_originals(ctx, DocumentState.DELIVERED, cfg.keep_processed_days, now),
        failed=_originals(ctx, DocumentState.FAILED, cfg.keep_failed_days, now),
        messages=_messages(ctx, cfg.keep_messages_days, now),
    )
    if removed.processed or removed.failed or removed.messages:
        log.info("retention removed %d delivered and %d failed originals and %d raw messages",
                 removed.processed, removed.failed, removed.messages)
    return removed


def _originals(ctx: Context, state: DocumentState, days: int, now: datetime) -> int:
    if days <= 0:
        return 0
    cutoff = _stamp(now - timedelta(days=days))
    total = 0
    spool = Spool.of(ctx)
    while batch := ctx.store.documents_parked_before(state, cutoff, BATCH):
        for doc in batch:
            current = ctx.store.get_document(doc.document_id)
            if current is not None and current.state is state:  # not retried meanwhile
                _remove_original(spool, current)
        ctx.store.originals_removed([d.document_id for d in batch], str(state), days)
        total += len(batch)
    return total


def _remove_original(spool: Spool, doc: Document) -> None:
    """What is kept of a finished document's original goes - in ``processed/`` or
    ``failed/`` (with its sidecar and reason file) and in the spool. Idempotent."""
    if doc.source_path:
        spool.remove_parked(PROCESSED if doc.state is DocumentState.DELIVERED else FAILED, Path(doc.source_path))
    spool.remove(doc.document_id)


def _messages(ctx: Context, days: int, now: datetime) -> int:
    if days <= 0:
        return 0
    cutoff = _stamp(now - timedelta(days=days))
    total = 0
    while digests := ctx.store.messages_kept_before(cutoff, now.strftime("%Y-%m-%dT%H:%M:%SZ"), BATCH):
        ctx.store.remove_messages(digests, days)
        total += len(digests)
    return total
