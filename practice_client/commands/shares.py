"""``shares list|show|release|discard``: documents patients shared with the practice.

    practice-client shares list [--json] [--limit N] [--since TIME] [--state STATE]
    practice-client shares show SHARE_ID [--json]
    practice-client shares release SHARE_ID --reason TEXT [--patient-number N --birth-date TT.MM.JJJJ]
    practice-client shares discard SHARE_ID --reason TEXT

A share names its patient by the PMS record (number, name, birth date) once its
signature is verified; the file name and type the patient gave are shown beside it.
Release needs the administrator role (``local_user_is_admin`` in the policy); the
received file itself is never opened.
"""

from __future__ import annotations

import argparse
from typing import Any

from practice_client.commands import print_json
from practice_client.commands.paging import add_paging_options, more_line, paging, shown
from practice_client.context import Context
from practice_client.core.errors import StateError
from practice_client.core.identity import german_date
from practice_client.core.models import Share
from practice_client.core.store import SHARES_NEWEST
from practice_client.core.text import Text
from practice_client.shares.states import ShareState


def share_json(ctx: Context, share: Share) -> dict[str, Any]:
    """A share as scripts see it; ``patient`` is the PMS record of the verified patient."""
    from practice_client.shares.states import REASONS, reason_text

    patient = ctx.store.get_patient(share.patient_number) if share.patient_number else None
    manifest = share.manifest if share.state != "quarantined" or share.patient_number else {}
    return {
        "share_id": share.share_id, "state": share.state, "size": share.size,
        "received_at": share.received_at, "updated_at": share.updated_at,
        "reason": share.reason, "stage": REASONS[share.reason].stage if share.reason in REASONS else None,
        "reason_text": {"de": reason_text(share.reason, "de"), "en": reason_text(share.reason, "en")}
        if share.reason else None,
        "detail": str(Text.decode(share.detail)) if share.detail else None,
        "file_type": share.file_type, "sha256": share.sha256,
        "fingerprint": share.fingerprint, "claimed_fingerprint": share.claimed_fingerprint,
        "patient": {"patient_number": patient.patient_number, "name": patient.name,
                    "birth_date": patient.birth_date} if patient else
        ({"patient_number": share.patient_number} if share.patient_number else None),
        "claimed": {k: manifest.get(k) for k in ("file_name", "document_type", "document_date")} if manifest else None,
        "handed_over": [share.handover.get("file"), share.handover.get("record")]
        if share.state == "handed_over" else None,
        "receipt": share.receipt, "receipt_sent": share.receipt_sent,
    }


def _line(ctx: Context, share: Share) -> str:
    data = share_json(ctx, share)
    patient = data["patient"]
    who = (f"{patient['patient_number']} {patient.get('name', '')}"
           + (f", geb. {german_date(patient['birth_date'])}" if patient.get("birth_date") else "")
           if patient else "– (nicht zugeordnet / no patient)")
    claimed = data["claimed"] or {}
    text = f"{share.share_id}  {share.state:<12}  {who}"
    if claimed.get("file_name"):
        text += f"  \"{claimed['file_name']}\" ({claimed.get('document_type') or '-'})"
    if share.reason:
        text += f"  [{data['reason_text']['de']} / {data['reason_text']['en']}" + (
            f": {data['detail']}" if data["detail"] else "") + "]"
    return text


def _get(ctx: Context, share_id: str) -> Share:
    share = ctx.store.get_share(share_id)
    if share is None:
        raise StateError(Text(f"{share_id}: kein solches geteiltes Dokument", f"{share_id}: no such share"))
    return share


def _list(args: argparse.Namespace) -> int:
    """One page of the shares, newest first (a daily command costs the same after years)."""
    page = paging(args)  # checked before anything is opened
    ctx = Context()
    try:
        rows = ctx.store.page_shares(SHARES_NEWEST, states=page.states, since=page.since, limit=page.fetch)
        shares, total, more = shown(rows, page, lambda: ctx.store.count_shares(page.states, page.since))
        if args.json:
            print_json({"shares": [share_json(ctx, s) for s in shares], "total": total, "more": more})
            return 0
        if not shares:
            print(Text("Keine geteilten Dokumente", "no shared documents"))
        for share in shares:
            print(_line(ctx, share))
        if (hidden := more_line(len(shares), total)) is not None:
            print(hidden)
    finally:
        ctx.close()
    return 0


def _show(args: argparse.Namespace) -> int:
    ctx = Context()
    try:
        share = _get(ctx, args.share_id)
        if args.json:
            print_json(share_json(ctx, share))
        else:
            print(_line(ctx, share))
            for key, value in share_json(ctx, share).items():
                if value not in (None, "", [], {}):
                    print(f"  {key}: {value}")
    finally:
        ctx.close()
    return 0


def _release(args: argparse.Namespace) -> int:
    from practice_client.shares.actions import local_actor, release

    ctx = Context()
    try:
        share = release(ctx, args.share_id, local_actor(ctx), args.reason, args.patient_number, args.birth_date)
        print(Text(f"{share.share_id}: freigegeben, jetzt {share.state}; der Agent macht weiter",
                   f"{share.share_id}: released, now {share.state}; the agent carries on"))
    finally:
        ctx.close()
    return 0


def _discard(args: argparse.Namespace) -> int:
    from practice_client.shares.actions import discard, local_actor

    ctx = Context()
    try:
        share = discard(ctx, args.share_id, local_actor(ctx), args.reason)
        print(Text(f"{share.share_id}: verworfen (die App der Patientin erfährt es)",
                   f"{share.share_id}: discarded (the patient's app is told)"))
    finally:
        ctx.close()
    return 0


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("shares", help="documents patients shared with the practice")
    actions = p.add_subparsers(dest="shares_action", required=True)
    ls = actions.add_parser("list", help="the shares with their state and patient, newest first")
    ls.add_argument("--json", action="store_true")
    add_paging_options(ls, [str(state) for state in ShareState], "shares")
    ls.set_defaults(func=_list)
    show = actions.add_parser("show", help="one share in full")
    show.add_argument("share_id", metavar="SHARE_ID")
    show.add_argument("--json", action="store_true")
    show.set_defaults(func=_show)
    rel = actions.add_parser("release", help="release a quarantined share (administrators, with a reason)")
    rel.add_argument("share_id", metavar="SHARE_ID")
    rel.add_argument("--reason", required=True)
    rel.add_argument("--patient-number", metavar="N", help="a share without a verified patient: the PMS patient")
    rel.add_argument("--birth-date", metavar="TT.MM.JJJJ", help="with --patient-number: as in the PMS record")
    rel.set_defaults(func=_release)
    dis = actions.add_parser("discard", help="discard a quarantined or waiting share (with a reason)")
    dis.add_argument("share_id", metavar="SHARE_ID")
    dis.add_argument("--reason", required=True)
    dis.set_defaults(func=_discard)
