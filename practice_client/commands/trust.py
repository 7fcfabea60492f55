"""``trust import|list|remove``: patients' trust certificates and pins."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from practice_client.commands import print_json
from practice_client.context import Context
from practice_client.core.errors import PracticeClientError
from practice_client.core.models import Patient, Pin
from practice_client.core.text import Text
from practice_client.crypto.gpg import group_fingerprint
from practice_client.crypto.trust import (
    TrustCertificate,
    find_patient,
    pin_certificate,
    remove_pin,
    verify_certificate,
)


class NotConfirmed(PracticeClientError):
    """Staff did not confirm (or could not be asked): nothing was changed."""


def confirm(question: str, assume_yes: bool) -> None:
    """Ask y/N on the terminal. Without a terminal only ``--yes`` can confirm: a script
    must say so explicitly rather than pin a key nobody compared."""
    if assume_yes:
        return
    if not sys.stdin.isatty():
        raise NotConfirmed(Text("Bestätigung nötig: im Terminal ausführen oder --yes angeben",
                                "confirmation needed: run interactively or pass --yes"))
    answer = input(f"{question} [j/y/N] ").strip().casefold()
    if answer not in {"j", "ja", "y", "yes"}:
        raise NotConfirmed(Text("nicht bestätigt: nichts wurde geändert", "not confirmed: nothing was changed"))


def _show(cert: TrustCertificate, patient: Patient) -> None:
    print(Text("Vertrauenszertifikat", "trust certificate (verified by the platform's identity key)"))
    print(f"  Name / name:                 {cert.name}")
    print(f"  Geburtsdatum / birth date:   {cert.birth_date}")
    print(f"  Telefon / phone:             {cert.phone}")
    print(f"  Fingerabdruck / fingerprint: {group_fingerprint(cert.fingerprint)}")
    print(f"  Identifiziert / identified:  {cert.ident}, {cert.issued_at}")
    print(f"  Patientennummer / patient number (PMS): {patient.patient_number}")


def _import(args: argparse.Namespace) -> int:
    path = Path(args.file)
    ctx = Context()
    try:
        ctx.require_setup()
        cert = verify_certificate(ctx, path)
        patient = find_patient(ctx, cert, args.patient_number, path)
        if not args.yes:
            _show(cert, patient)
        confirm(
            "Fingerabdruck mit dem Patienten verglichen? / Fingerprint compared with the patient?",
            args.yes,
        )
        pin = pin_certificate(ctx, cert, patient, replace=args.replace)
    finally:
        ctx.close()
    print(f"Schlüssel gepinnt / key pinned: {group_fingerprint(pin.fingerprint)} "
          f"-> patient {pin.patient_number}")
    return 0


def _pin_json(pin: Pin) -> dict[str, str]:
    return {
        "fingerprint": pin.fingerprint, "patient_number": pin.patient_number, "name": pin.name,
        "birth_date": pin.birth_date, "phone": pin.phone, "ident": pin.ident,
        "issued_at": pin.issued_at, "pinned_at": pin.pinned_at,
    }


def _list(args: argparse.Namespace) -> int:
    ctx = Context()
    try:
        pins = ctx.store.list_pins()
    finally:
        ctx.close()
    if args.json:
        print_json({"pins": [_pin_json(p) for p in pins]})
        return 0
    if not pins:
        print(Text("Keine gepinnten Schlüssel", "no pinned keys"))
    for pin in pins:
        print(f"{pin.patient_number:<12} {pin.name} ({pin.birth_date}) {pin.phone}  "
              f"{group_fingerprint(pin.fingerprint)}")
    return 0


def _remove(args: argparse.Namespace) -> int:
    ctx = Context()
    try:
        confirm(f"Pin {args.fingerprint} entfernen? / Remove this pin?", args.yes)
        pin = remove_pin(ctx, args.fingerprint)
    finally:
        ctx.close()
    print(f"Pin entfernt / pin removed: {group_fingerprint(pin.fingerprint)} "
          f"(patient {pin.patient_number})")
    return 0


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("trust", help="patients' trust certificates")
    s = p.add_subparsers(dest="action", required=True)
    i = s.add_parser("import", help="verify a trust certificate and pin the patient's key")
    i.add_argument("file", metavar="FILE")
    i.add_argument("--patient-number", metavar="N",
                   help="PMS patient number (default: the one patient with this name and birth date)")
    i.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    i.add_argument("--replace", action="store_true", help="re-pin: replace the patient's pinned key")
    i.set_defaults(func=_import)
    ls = s.add_parser("list", help="pinned trust certificates")
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(func=_list)
    rm = s.add_parser("remove", help="remove a pin and delete the key from the client's keyring")
    rm.add_argument("fingerprint")
    rm.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    rm.set_defaults(func=_remove)
