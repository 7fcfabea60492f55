"""``agent``, ``send`` and ``outbox``: document delivery."""

from __future__ import annotations

import argparse
import threading
import time
from pathlib import Path
from typing import Any

from practice_client.commands import print_json, stop_on_signals
from practice_client.commands.paging import Paging, add_paging_options, more_line, paging, shown
from practice_client.context import Context
from practice_client.core.errors import InputError, PracticeClientError
from practice_client.core.identity import IdentityIndex, PatientIdentity, german_date
from practice_client.core.models import Document, DocumentState
from practice_client.core.text import Text

SEND_TIMEOUT_SECONDS = 24 * 3600.0
DONE = (DocumentState.DELIVERED, DocumentState.FAILED)


def _agent(args: argparse.Namespace) -> int:
    """Run until SIGTERM / SIGINT, then shut down cleanly and exit 0."""
    from practice_client.service.agent import Agent

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
    print(Text("Agent beendet", "agent stopped"), flush=True)
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
            print(f"{file}: nicht zugestellt / not delivered ({doc.document_id}): {Text.decode(doc.error or '')}")
        else:
            failed += 1
            why = Text.decode(doc.error) if doc.error else doc.state
            print(f"{file}: noch nicht zugestellt, bleibt im Postausgang / not delivered yet, kept in the "
                  f"outbox for 'practice-client agent' ({doc.document_id}): {why}")
    if failed:
        raise PracticeClientError(Text(f"{failed} von {len(final)} Dateien nicht zugestellt",
                                       f"{failed} of {len(final)} files not delivered"))
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


def document_json(doc: Document, identity: PatientIdentity | None = None) -> dict[str, Any]:
    """A document as scripts see it; ``patient`` is its request's patient by the PMS record."""
    held = doc.extra.get("held") if doc.state is DocumentState.HELD else None
    return {
        "document_id": doc.document_id, "state": str(doc.state), "file_name": doc.original_name,
        "size": doc.size, "request_id": doc.request_id, "match_method": doc.match_method,
        "error": str(Text.decode(doc.error)) if doc.error else None, "attempts": doc.attempts,
        "created_at": doc.created_at,
        "updated_at": doc.updated_at, "delivered_at": doc.delivered_at,
        "ciphertext_sha256": doc.ciphertext_sha256, "sha256": doc.sha256 or None,
        "alert": doc.extra.get("alert"),
        "patient": identity.to_json() if identity else None,
        "held": held if isinstance(held, dict) else None,
    }


def matching_json(ctx: Context) -> dict[str, Any]:
    """How files are matched: the pattern, and whether the policy lets the number alone match."""
    config = ctx.config
    return {"filename_pattern": config.filename_pattern, "number_only": config.number_only_matching,
            "sidecar_grace_seconds": config.sidecar_grace_seconds,
            "gdt_answer_dir": config.gdt_answer_dir or None}

def _staff_action(ctx: Context, args: argparse.Namespace) -> Document | None:
    """--retry, --assign, --send-to-new-key, --withhold: one decision, then the agent goes on."""
    from practice_client.delivery import outbox

    if args.retry:
        return outbox.retry(ctx, args.retry)
    if args.assign:
        if not args.request or not args.birth_date:
            raise InputError("--assign", Text(
                "mit --request ID und --birth-date TT.MM.JJJJ (aus dem Dokument, mit dem PVS abgeglichen)",
                "needs --request ID and --birth-date DD.MM.YYYY (from the document, checked against the PMS)"))
        return outbox.assign(ctx, args.assign, args.request, args.birth_date)
    if args.send_to_new_key:
        if not args.fingerprint:
            raise InputError("--send-to-new-key", Text("mit --fingerprint FPR des neuen Schlüssels (wie angezeigt)",
                                                       "needs --fingerprint FPR of the new key (as shown)"))
        return outbox.release(ctx, args.send_to_new_key, args.fingerprint)
    if args.withhold:
        return outbox.withhold(ctx, args.withhold)
    return None


def _print_candidates(ctx: Context, as_json: bool) -> None:
    from practice_client.delivery.recipients import assign_candidates

    candidates = assign_candidates(ctx)
    if as_json:
        print_json({"candidates": [c.to_json() for c in candidates]})
        return
    if not candidates:
        print(Text("Keine angenommene Anfrage", "no accepted request"))
    for c in candidates:
        pms = c.identity.pms
        assert pms is not None
        flag = "  [ABWEICHUNG / DIFFERS: " + ", ".join(c.identity.differences()) + "]" if c.identity.differs else ""
        print(f"{c.request_id}  {c.identity.patient_number:<10} {pms.name}, geb. {german_date(pms.birth_date)}  "
              f"{', '.join(c.documents)}{flag}")


def _print_outbox(ctx: Context, page: Paging, as_json: bool) -> None:
    """One page of the outbox, newest first; each document's patient by the PMS record of its
    request (only the requests on the page are read)."""
    from practice_client.delivery.key_check import alerts

    rows = ctx.store.page_documents(states=page.states, since=page.since, limit=page.fetch)
    docs, total, more = shown(rows, page, lambda: ctx.store.count_documents(page.states, page.since))
    warnings = alerts(ctx)
    requests = {r.request_id: r for rid in {d.request_id for d in docs if d.request_id}
                if (r := ctx.store.get_request(rid)) is not None}
    index = IdentityIndex.of_numbers(ctx.store, (r.patient_number for r in requests.values()))
    identities = {d.document_id: index.of_document(d, requests) for d in docs}
    if as_json:
        print_json({"documents": [document_json(d, identities[d.document_id]) for d in docs],
                    "total": total, "more": more,
                    "alerts": [{"kind": "server_key_mismatch", "fingerprint": f} for f in warnings],
                    "matching": matching_json(ctx)})
        return
    for fpr in warnings:
        print(f"WARNUNG / ALERT: Server-Kopie des Schlüssels {fpr} weicht vom Vertrauenszertifikat ab / "
              "the server's copy of this key differs from the trust certificate")
    if ctx.config.number_only_matching:
        print("HINWEIS / NOTE: Zuordnung allein über die Patientennummer ist per Richtlinie erlaubt / "
              "matching by the patient number alone is allowed by policy")
    if not docs:
        print(Text("Postausgang leer", "outbox empty"))
    for doc in docs:
        line = f"{doc.document_id}  {doc.state:<10}  {doc.original_name}"
        identity = identities[doc.document_id]
        if doc.request_id:
            pms = identity.pms if identity else None
            line += f"  -> {doc.request_id}" + (f" ({identity.patient_number} {pms.name})" if identity and pms else "")
        if doc.state is DocumentState.DELIVERED:
            line += f"  {doc.delivered_at}  sha256 {doc.ciphertext_sha256}"
        elif doc.error:
            line += f"  ({Text.decode(doc.error)})"
        print(line)
    if (hidden := more_line(len(docs), total)) is not None:
        print(hidden)


def _outbox(args: argparse.Namespace) -> int:
    page = paging(args)  # checked before anything is opened
    ctx = Context()
    try:
        doc = _staff_action(ctx, args)
        if doc is not None:
            print(f"{doc.document_id}: {doc.state}; der Agent macht weiter / the agent carries on")
        elif args.candidates:
            _print_candidates(ctx, args.json)
        else:
            _print_outbox(ctx, page, args.json)
    finally:
        ctx.close()
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
    p.add_argument("--candidates", action="store_true",
                   help="the requests an unassigned document may be assigned to (PMS record)")
    p.add_argument("--assign", metavar="DOCUMENT_ID", help="assign an unassigned document (--request, --birth-date)")
    p.add_argument("--request", metavar="ID", help="with --assign: the accepted request")
    p.add_argument("--birth-date", metavar="TT.MM.JJJJ", help="with --assign: the patient's birth date, "
                   "read from the document; it must be the PMS record's")
    p.add_argument("--send-to-new-key", metavar="DOCUMENT_ID",
                   help="a held document goes to the patient's new key (--fingerprint)")
    p.add_argument("--fingerprint", metavar="FPR", help="with --send-to-new-key: the new key, as shown")
    p.add_argument("--withhold", metavar="DOCUMENT_ID", help="a held document is not sent")
    p.set_defaults(func=_outbox)
