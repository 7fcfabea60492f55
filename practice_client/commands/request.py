"""``request verify|list|accept|decline|fetch``: incoming patient requests."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from practice_client.commands import print_json
from practice_client.commands.paging import add_paging_options, more_line, paging, shown
from practice_client.context import Context
from practice_client.core.errors import InputError, NotConfigured, PracticeClientError, StateError
from practice_client.core.identity import IdentityIndex, PatientIdentity, german_date
from practice_client.core.models import CheckStatus, RequestRecord, RequestStatus, Verdict
from practice_client.core.text import Text

EXIT_CODES = {Verdict.VERIFIED: 0, Verdict.NEEDS_REVIEW: 3, Verdict.REJECTED: 1}
SYMBOLS = {CheckStatus.PASS: "OK  ", CheckStatus.WARN: "WARN", CheckStatus.FAIL: "FAIL"}


def _require_intake(ctx: Context) -> None:
    if not ctx.config.platform_domain or not ctx.home.database.exists():
        raise NotConfigured(f"{ctx.home.config}: the client is not set up yet - run 'practice-client setup' first")


def _verify(args: argparse.Namespace) -> int:
    """Verify without changing anything: no store writes, no audit entries."""
    from practice_client.intake.inbox import utc_now
    from practice_client.intake.mail_file import read_mail_file
    from practice_client.intake.verify import verify_message

    mail = read_mail_file(Path(args.file))
    ctx = Context()
    try:
        _require_intake(ctx)
        from practice_client.intake.dkim_check import dns_resolver

        result = verify_message(mail.raw, config=ctx.config, store=ctx.store,
                                dnsfunc=dns_resolver(ctx.config.dns_server), now=utc_now(),
                                reconstructed=mail.reconstructed)
    finally:
        ctx.close()
    if args.json:
        print_json(result.to_json())
    else:
        print(f"Ergebnis / verdict: {result.verdict}  ({result.request_id or '-'})")
        for check in result.checks:
            print(f"  {SYMBOLS[check.status]} {check.name:<18} {check.detail_de}")
            print(f"       {'':<18} {check.detail_en}")
    return EXIT_CODES[result.verdict]


def _import(args: argparse.Namespace) -> int:
    """Record request e-mail files (.eml, Outlook .msg) like received mail: every file is
    read first, so one unreadable file records nothing."""
    from practice_client.intake.inbox import Inbox
    from practice_client.intake.mail_file import import_mail_files

    ctx = Context()
    try:
        _require_intake(ctx)
        recorded = import_mail_files(Inbox(ctx).receive, [Path(f) for f in args.files])
    finally:
        ctx.close()
    print(f"{recorded} neue Anfragen / new requests")
    return 0


def _record_json(record: RequestRecord, identity: PatientIdentity) -> dict[str, Any]:
    """A request as scripts see it: its patient is the PMS record (``patient.pms``), with
    the pinned certificate and the request's claim beside it, flagged where they differ."""
    return {
        "request_id": record.request_id,
        "status": str(record.status),
        "verdict": str(record.verdict),
        "received_at": record.received_at,
        "source": record.source,
        "patient_number": record.patient_number,
        "patient": identity.to_json(),
        "accepted_fingerprint": record.accepted_fingerprint,
        "documents": record.summary.get("documents", []),
        "period": record.summary.get("period"),
        "expires_at": record.expires_at,
        "decided_at": record.decided_at,
        "override": record.override,
        "decision_sent": record.decision_sent,
        "decision_refused": record.decision_refused,
        "checks": [c.to_json() for c in record.checks],
    }


def _patient_line(identity: PatientIdentity) -> str:
    """The PMS record (never the claim alone), and a mark where anything differs."""
    pms = identity.pms
    who = f"{pms.name}, geb. {german_date(pms.birth_date)}" if pms else "- (nicht im PVS / not in the PMS)"
    return who + ("  [ABWEICHUNG / DIFFERS: " + ", ".join(identity.differences()) + "]" if identity.differs else "")


def _list(args: argparse.Namespace) -> int:
    page = paging(args)
    ctx = Context()
    try:
        rows = ctx.store.page_requests(statuses=page.states, since=page.since, limit=page.fetch)
        records, total, more = shown(rows, page, lambda: ctx.store.count_requests(page.states, page.since))
        index = IdentityIndex.of_numbers(ctx.store, (r.patient_number for r in records))
    finally:
        ctx.close()
    if args.json:
        print_json({"requests": [_record_json(r, index.of_request(r)) for r in records],
                    "total": total, "more": more})
        return 0
    if not records:
        print(Text("Keine Anfragen", "no requests"))
    for r in records:
        documents = r.summary.get("documents")
        print(f"{r.request_id}  {r.status:<9} {r.verdict:<13} {r.patient_number or '-':<10} "
              f"{_patient_line(index.of_request(r))}  "
              f"{', '.join(map(str, documents)) if isinstance(documents, list) else ''}")
    if (hidden := more_line(len(records), total)) is not None:
        print(hidden)
    return 0


def _show(args: argparse.Namespace) -> int:
    ctx = Context()
    try:
        record = ctx.store.get_request(args.request_id)
        if record is None:
            raise StateError(Text("keine solche Anfrage", "no such request").prefixed(f"{args.request_id}: "))
        identity = IdentityIndex.of_numbers(ctx.store, [record.patient_number]).of_request(record)
    finally:
        ctx.close()
    data = _record_json(record, identity)
    if args.json:
        print_json(data)
        return 0
    print(f"Anfrage / request {record.request_id}: {record.status}, {record.verdict}")
    print(f"  Patient (PVS / PMS) {record.patient_number or '-'}: {_patient_line(identity)}")
    for label, person in (("Zertifikat / certificate", identity.certificate_person),
                          ("Anfrage / claimed", identity.claimed)):
        if person is not None:
            print(f"  {label}: {person.name}, geb. {german_date(person.birth_date)}")
    for check in record.checks:
        print(f"  {SYMBOLS[check.status]} {check.name:<18} {check.detail_de}")
        print(f"       {'':<18} {check.detail_en}")
    return 0


def _accept(args: argparse.Namespace) -> int:
    from practice_client.intake.decisions import accept, export_folder, try_flush
    from practice_client.service.remote import remote_command

    sent = remote_command("accept", {"request_id": args.request_id, "override": args.override,
                                     "reason": args.reason or ""}, f"request accept {args.request_id}")
    if sent is not None:  # a workstation: the practice service decided
        print(f"Anfrage angenommen / request accepted: {args.request_id} (Praxisdienst / practice service)")
        return 0
    ctx = Context()
    try:
        record = accept(ctx, args.request_id, override=args.override, reason=args.reason)
        folder = export_folder(ctx, record.request_id)
        status = try_flush(ctx)
    finally:
        ctx.close()
    print(f"Anfrage angenommen / request accepted: {record.request_id} ({status})")
    if folder is not None:
        print(f"Exportordner / export folder: {folder}")
    return 0


def _decline(args: argparse.Namespace) -> int:
    from practice_client.intake.decisions import decline, try_flush
    from practice_client.service.remote import remote_command

    sent = remote_command("decline", {"request_id": args.request_id, "reason": args.reason},
                          f"request decline {args.request_id}")
    if sent is not None:
        print(f"Anfrage abgelehnt / request declined: {args.request_id} (Praxisdienst / practice service)")
        return 0
    ctx = Context()
    try:
        record = decline(ctx, args.request_id, reason=args.reason)
        status = try_flush(ctx)
    finally:
        ctx.close()
    print(f"Anfrage abgelehnt / request declined: {record.request_id} ({status})")
    return 0


def _fetch(args: argparse.Namespace) -> int:
    """Poll every configured source once; a failing source does not stop the others."""
    from practice_client.service.sources import configured_sources

    ctx = Context()
    failures: list[str] = []
    total = 0
    try:
        for source in configured_sources(ctx, profile="interactive"):
            try:
                total += source.poll_once()
                source.report()
            except PracticeClientError as exc:
                failures.append(f"{type(source).__name__}: {exc}")
    finally:
        ctx.close()
    print(f"{total} neue Anfragen / new requests")
    for failure in failures:
        print(f"practice-client: {failure}", file=sys.stderr)
    return 1 if failures else 0


def _source_imap(args: argparse.Namespace) -> int:
    """Test the mailbox with the given settings first; only then save them (and the
    password, in the OS keyring)."""
    from practice_client.core.secrets import IMAP_PASSWORD
    from practice_client.intake.sources.imap import ImapSource

    if args.ca_file and not Path(args.ca_file).is_file():
        raise InputError(args.ca_file, Text("CA-Datei fehlt", "the CA file does not exist"))
    ctx = Context()
    try:
        password = sys.stdin.readline().rstrip("\r\n") if args.password_stdin else ctx.secrets.get(IMAP_PASSWORD)
        if not password:
            raise InputError("--password-stdin", Text("kein IMAP-Passwort (über --password-stdin einlesen)",
                                                       "no IMAP password (pipe it to --password-stdin)"))
        source = ImapSource(host=args.host, port=args.port, user=args.user, password=password,
                            folder=args.folder, processed_folder=args.processed_folder,
                            ca_file=str(Path(args.ca_file).absolute()) if args.ca_file else "",
                            deliver=lambda raw, src: 0, settle=lambda: 0)
        waiting = source.check_connection()
        ctx.update_config(imap_host=args.host, imap_port=args.port, imap_user=args.user, imap_folder=args.folder,
                          imap_processed_folder=args.processed_folder, imap_ca_file=source.ca_file)
        if args.password_stdin:
            ctx.secrets.set(IMAP_PASSWORD, password)
        ctx.store.record("intake.source_configured", kind="imap", host=args.host, port=args.port)
    finally:
        ctx.close()
    print(f"IMAP-Postfach eingerichtet / IMAP mailbox set up: {args.host}:{args.port} ({waiting} wartend / waiting)")
    return 0


def _source_folder(args: argparse.Namespace) -> int:
    folder = Path(args.directory).absolute()
    if not folder.is_dir():
        raise InputError(folder, Text("kein Ordner", "not a directory"))
    ctx = Context()
    try:
        ctx.update_config(eml_dir=str(folder))
        ctx.store.record("intake.source_configured", kind="folder")
    finally:
        ctx.close()
    print(f"E-Mail-Ordner eingerichtet / .eml folder set up: {folder}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("request", help="incoming patient document requests")
    s = p.add_subparsers(dest="action", required=True)
    v = s.add_parser("verify", help="verify a request e-mail (exit 0 verified, 3 needs review, 1 rejected)")
    v.add_argument("file", metavar="FILE.eml|FILE.msg")
    v.add_argument("--json", action="store_true")
    v.set_defaults(func=_verify)
    ri = s.add_parser("import", help="record request e-mails saved from the mail program (.eml, Outlook .msg)")
    ri.add_argument("files", nargs="+", metavar="FILE.eml|FILE.msg")
    ri.set_defaults(func=_import)
    ls = s.add_parser("list", help="received requests (newest first)")
    ls.add_argument("--json", action="store_true")
    add_paging_options(ls, [str(status) for status in RequestStatus], "requests")
    ls.set_defaults(func=_list)
    sh = s.add_parser("show", help="one request: the patient by the PMS record, the certificate, the claim, the checks")
    sh.add_argument("request_id", metavar="ID")
    sh.add_argument("--json", action="store_true")
    sh.set_defaults(func=_show)
    a = s.add_parser("accept", help="accept a request")
    a.add_argument("request_id", metavar="ID")
    a.add_argument("--override", action="store_true", help="accept a request that is not verified")
    a.add_argument("--reason", help="why (required with --override)")
    a.set_defaults(func=_accept)
    d = s.add_parser("decline", help="decline a request")
    d.add_argument("request_id", metavar="ID")
    d.add_argument("--reason", required=True)
    d.set_defaults(func=_decline)
    f = s.add_parser("fetch", help="collect new requests once from every configured source")
    f.set_defaults(func=_fetch)
    src = s.add_parser("source", help="set up where requests arrive (IMAP mailbox, e-mail folder)")
    ss = src.add_subparsers(dest="source_kind", required=True)
    im = ss.add_parser("imap", help="an IMAP mailbox over TLS (tested before it is saved)")
    im.add_argument("--host", required=True)
    im.add_argument("--port", type=int, default=993)
    im.add_argument("--user", required=True)
    im.add_argument("--folder", default="INBOX")
    im.add_argument("--processed-folder", default="Verarbeitet")
    im.add_argument("--ca-file", metavar="PEM", help="an extra CA for the practice's own mail server")
    im.add_argument("--password-stdin", action="store_true", help="read the password from stdin (kept in the keyring)")
    im.set_defaults(func=_source_imap)
    fo = ss.add_parser("folder", help="a folder of request e-mails saved from the mail program (.eml, .msg)")
    fo.add_argument("directory", metavar="DIR")
    fo.set_defaults(func=_source_folder)
