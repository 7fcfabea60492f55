"""``testbed patient request`` and ``testbed dns``: a request as the platform delivers it,
and the DNS server that publishes the platform's DKIM key - for manual trials.

    testbed patient request --dir D --platform-data P --practice-id ID [--domain DOM]
                            [--phone P] [--output F.eml]
        # the patient signs, the platform DKIM-signs; default: P/inbox/<time>-<id>.eml
    testbed dns --platform-data P [--port N]
        # serves P/dkim/*.json on 127.0.0.1 (setup --dns-server 127.0.0.1:N)
"""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime
from pathlib import Path

from practice_client.commands import stop_on_signals
from practice_client.core.atomic import atomic_write
from practice_client.core.errors import InputError

DEFAULT_DOMAIN = "plattform.example"


def _request(args: argparse.Namespace) -> int:
    from practice_client.testbed.mail import build_message, dkim_sign, platform_dkim_key, request_json, summary_text
    from practice_client.testbed.patient import SimulatedPatient

    data = Path(args.platform_data)
    patient = SimulatedPatient.open(Path(args.dir))
    try:
        request = request_json(
            practice_id=args.practice_id, name=patient.name, birth_date=patient.birth_date,
            phone=args.phone or patient.phone, fingerprint=patient.fingerprint, documents=args.documents,
        )
        signature = patient.sign(request)
    finally:
        patient.close()
    key = platform_dkim_key(data, args.domain)
    raw = dkim_sign(build_message(request, signature, sender=f"Plattform <anfragen@{args.domain}>",
                                  recipient="praxis@example.org", text=summary_text(request)), key)
    request_id = json.loads(request)["request_id"]
    if args.output:
        target = Path(args.output)
    else:
        (data / "inbox").mkdir(parents=True, exist_ok=True)
        target = data / "inbox" / f"{datetime.now(UTC).strftime('%Y%m%dT%H%M%S%f')}-{request_id}.eml"
    atomic_write(target, raw, 0o644)
    print(f"Anfrage / request {request_id}: {target}")
    print(f"DKIM: {key.record_name} (testbed dns --platform-data {data})")
    return 0


def _dns(args: argparse.Namespace) -> int:
    from practice_client.testbed.dns import TxtDnsServer
    from practice_client.testbed.mail import published_dkim_records

    data = Path(args.platform_data)
    records = published_dkim_records(data)
    if not records:
        raise InputError(data / "dkim", "no DKIM key yet - create a request first (testbed patient request)")
    with stop_on_signals() as stop:
        try:
            server = TxtDnsServer(records, port=args.port).start()
        except OSError as exc:
            raise InputError(f"127.0.0.1:{args.port}", f"cannot serve DNS: {exc.strerror or exc}") from None
        try:
            print(f"DNS: {server.address} ({', '.join(records)})", flush=True)
            while not stop.wait(3600):
                pass
        finally:
            server.stop()
    return 0


def register_patient_request(patient_actions: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Adds ``request`` to ``testbed patient``."""
    from practice_client.intake.message import DOCUMENT_TYPES

    r = patient_actions.add_parser("request", help="send a document request (signed, DKIM-signed by the platform)")
    r.add_argument("--dir", required=True, metavar="DIR", help="the patient's folder")
    r.add_argument("--platform-data", required=True, metavar="DIR", help="the testbed platform's data folder")
    r.add_argument("--practice-id", required=True, metavar="ID")
    r.add_argument("--domain", default=DEFAULT_DOMAIN, help="the platform's mail domain (setup --platform-domain)")
    r.add_argument("--phone", help="state another phone number (to try the phone check)")
    r.add_argument("--documents", nargs="+", choices=DOCUMENT_TYPES, default=["Arztbrief", "Befund"])
    r.add_argument("--output", metavar="FILE.eml", help="write here instead of the platform's inbox")
    r.set_defaults(func=_request)


def register_dns(testbed_actions: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Adds ``dns`` to ``testbed``."""
    d = testbed_actions.add_parser("dns", help="serve the platform's DKIM keys over DNS on 127.0.0.1")
    d.add_argument("--platform-data", required=True, metavar="DIR")
    d.add_argument("--port", type=int, default=5353)
    d.set_defaults(func=_dns)
