"""``agent``, ``send`` and ``outbox``: document delivery."""

from __future__ import annotations

import argparse
import threading
import time
from pathlib import Path
from typing import Any

from practice_client.commands import print_json, stop_on_signals
from practice_client.commands.paging import add_paging_options, more_line, paging, shown
from practice_client.context import Context
from practice_client.core.errors import PracticeClientError
from practice_client.core.models import Document, DocumentState

SEND_TIMEOUT_SECONDS = 24 * 3600.0
DONE = (DocumentState.DELIVERED, DocumentState.FAILED)


def _agent(args: argparse.Namespace) -> int:
    """Run until SIGTERM / SIGINT, then shut down cleanly and exit 0."""
    from practice_client.delivery.agent import Agent

    with stop_on_signals() as stop:
        ctx = Context()
        agent = Agent(ctx)
        try:
            agent.start()
            print("Agent läuft / agent running (Strg-C oder SIGTERM beendet / Ctrl-C or SIGTERM stops)",
                  flush=True)
            stop.wait()
        finally:
            agent.stop()
            ctx.close()
    print("Agent beendet / agent stopped", flush=True)
    return 0


def _send(args: argparse.Namespace) -> int:
    """Copy the files into the outbox for the request and wait until each is delivered or failed."""
    from practice_client.delivery.outbox import add_files
    from practice_client.delivery.pipeline import Pipeline

    ctx = Context()
    try:
        ctx.require_setup()
        docs = add_files(ctx, [Path(f) for f in args.files], args.request)
        pipeline = Pipeline(ctx)
        pipeline.start()
        try:
            final = _wait_done(ctx, [d.document_id for d in docs], args.timeout)
        finally:
            pipeline.stop()
    finally:
        ctx.close()
    failed = 0
    for file, doc in zip(args.files, final, strict=True):
        if doc.state is DocumentState.DELIVERED:
            print(f"{file}: zugestellt / delivered ({doc.document_id}, sha256 {doc.ciphertext_sha256})")
        elif doc.state is DocumentState.FAILED:
            failed += 1
            print(f"{file}: nicht zugestellt / not delivered ({doc.document_id}): {doc.error}")
        else:
            failed += 1
            print(f"{file}: noch nicht zugestellt, bleibt im Postausgang / not delivered yet, kept in the "
                  f"outbox for 'practice-client agent' ({doc.document_id}): {doc.error or doc.state}")
    if failed:
        raise PracticeClientError(f"{failed} von {len(final)} Dateien nicht zugestellt / "
                                  f"{failed} of {len(final)} files not delivered")
    return 0


def _wait_done(ctx: Context, ids: list[str], timeout: float) -> list[Document]:
    deadline = time.monotonic() + timeout
    pause = threading.Event()
    while True:
        docs = [ctx.store.get_document(i) for i in ids]
        current = [d for d in docs if d is not None]
        # A document the platform could not take yet (error recorded, still uploading)
        # stays in the outbox for the agent: ``send`` reports it instead of waiting forever.
        if all(d.state in DONE or (d.state is DocumentState.UPLOADING and d.error) for d in current):
            return current
        if time.monotonic() >= deadline:
            return current
        pause.wait(0.1)


def document_json(doc: Document) -> dict[str, Any]:
    return {
        "document_id": doc.document_id, "state": str(doc.state), "file_name": doc.original_name,
        "size": doc.size, "request_id": doc.request_id, "match_method": doc.match_method,
        "error": doc.error, "attempts": doc.attempts, "created_at": doc.created_at,
        "updated_at": doc.updated_at, "delivered_at": doc.delivered_at,
        "ciphertext_sha256": doc.ciphertext_sha256, "sha256": doc.sha256 or None,
        "alert": doc.extra.get("alert"),
    }


def _outbox(args: argparse.Namespace) -> int:
    from practice_client.delivery.encrypt import alerts
    from practice_client.delivery.outbox import retry

    page = paging(args)  # checked before anything is opened
    ctx = Context()
    try:
        if args.retry:
            doc = retry(ctx, args.retry)
            print(f"{doc.document_id}: erneut im Postausgang / back in the outbox ({doc.state}); "
                  "der Agent stellt es zu / the agent delivers it")
            return 0
        rows = ctx.store.page_documents(states=page.states, since=page.since, limit=page.fetch)
        docs, total, more = shown(rows, page, lambda: ctx.store.count_documents(page.states, page.since))
        warnings = alerts(ctx)
    finally:
        ctx.close()
    if args.json:
        print_json({"documents": [document_json(d) for d in docs], "total": total, "more": more, "alerts": [
            {"kind": "server_key_mismatch", "fingerprint": f} for f in warnings]})
        return 0
    for fpr in warnings:
        print(f"WARNUNG / ALERT: Server-Kopie des Schlüssels {fpr} weicht vom Vertrauenszertifikat ab / "
              "the server's copy of this key differs from the trust certificate")
    if not docs:
        print("Postausgang leer / outbox empty")
    for doc in docs:
        line = f"{doc.document_id}  {doc.state:<10}  {doc.original_name}"
        if doc.request_id:
            line += f"  -> {doc.request_id}"
        if doc.state is DocumentState.DELIVERED:
            line += f"  {doc.delivered_at}  sha256 {doc.ciphertext_sha256}"
        elif doc.error:
            line += f"  ({doc.error})"
        print(line)
    if (hidden := more_line(len(docs), total)) is not None:
        print(hidden)
    return 0


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("agent", help="headless: intake + watched folder + uploads, until stopped")
    p.set_defaults(func=_agent)
    p = sub.add_parser("send", help="deliver files for an accepted request")
    p.add_argument("files", nargs="+", metavar="FILE")
    p.add_argument("--request", required=True, metavar="ID")
    p.add_argument("--timeout", type=float, default=SEND_TIMEOUT_SECONDS, help=argparse.SUPPRESS)
    p.set_defaults(func=_send)
    p = sub.add_parser("outbox", help="documents on their way, delivered and failed (newest first)")
    p.add_argument("--json", action="store_true")
    add_paging_options(p, [str(state) for state in DocumentState], "documents")
    p.add_argument("--retry", metavar="DOCUMENT_ID", help="try a failed document again")
    p.set_defaults(func=_outbox)
