"""``testbed patient ...`` and ``testbed authority ...``: the simulated patient app and
the platform's identity authority, for the demo, the tests and manual trials.

    testbed authority create --dir A [--implementation I]   # writes A/ident.asc for 'setup --ident-key'
    testbed patient create --dir D --name N --birth-date YYYY-MM-DD --phone P
                           [--implementation gnupg|sequoia|openpgpjs|rnp] [--key-type T] [--structure S]
    testbed patient certificate --dir D --authority A [--output F.trust.asc]
    testbed patient decrypt --dir D FILE --practice-key K.asc --output OUT
    testbed patient share --dir D FILE... --platform-data P --practice-key K.asc --practice-id ID
                          [--type T] [--date YYYY-MM-DD] [--unsigned]
    testbed patient receipts --dir D --platform-data P SHARE_ID...
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from pathlib import Path

from practice_client.commands import testbed_request
from practice_client.core.atomic import atomic_write
from practice_client.core.errors import CryptoError, InputError
from practice_client.core.patients import parse_birth_date
from practice_client.core.phone import normalize_phone
from practice_client.crypto.gpg import group_fingerprint
from practice_client.testbed.identity import IdentityAuthority
from practice_client.testbed.implementations import KEY_TYPES, RFC9580_KEY_TYPES, STRUCTURES, TOOLS
from practice_client.testbed.patient import SimulatedPatient

IDENT_KEY_FILE = "ident.asc"


def _implementation(name: str) -> str:
    """Which program plays the party, with its version (``sq 0.27.0 (sequoia-openpgp ...)``)."""
    return TOOLS[name].version()


def _authority_create(args: argparse.Namespace) -> int:
    authority = IdentityAuthority.create(Path(args.dir), implementation=args.implementation)
    try:
        key_file = authority.directory / IDENT_KEY_FILE
        atomic_write(key_file, authority.public_key().encode("utf-8"), mode=0o644)  # sq: UTF-8 comments
    finally:
        authority.close()
    print(f"Identitätsschlüssel / identity key: {group_fingerprint(authority.fingerprint)}, "
          f"{_implementation(args.implementation)}")
    print(f"for setup --ident-key: {key_file}")
    return 0


def _patient_create(args: argparse.Namespace) -> int:
    birth = parse_birth_date(args.birth_date)
    if birth is None:
        raise InputError(args.birth_date, "not a valid birth date (YYYY-MM-DD)")
    phone = normalize_phone(args.phone)
    if phone is None:
        raise InputError(args.phone, "not a valid phone number")
    if not args.name.strip():
        raise InputError("--name", "the name must not be empty")
    patient = SimulatedPatient.create(
        Path(args.dir), " ".join(args.name.split()), birth, phone,
        implementation=args.implementation, key_type=args.key_type, structure=args.structure,
    )
    patient.close()
    print(f"Patientenschlüssel / patient key: {group_fingerprint(patient.fingerprint)}, "
          f"{_implementation(args.implementation)}, {args.key_type}, {args.structure}")
    return 0


def _patient_certificate(args: argparse.Namespace) -> int:
    patient = SimulatedPatient.open(Path(args.dir))
    authority = IdentityAuthority.open(Path(args.authority))
    try:
        certificate = patient.trust_certificate(authority)
    finally:
        patient.close()
        authority.close()
    if args.output:
        atomic_write(Path(args.output), certificate.encode("utf-8"), mode=0o644)
        print(f"Vertrauenszertifikat / trust certificate: {args.output}")
    else:
        sys.stdout.write(certificate)
    return 0


def _patient_decrypt(args: argparse.Namespace) -> int:
    try:
        practice_key = Path(args.practice_key).read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError):
        raise InputError(args.practice_key, "cannot read the practice's public key") from None
    output, source = Path(args.output), Path(args.file)
    if not source.is_file():
        raise InputError(source, "no such file")
    if not output.parent.is_dir():
        raise InputError(output, "the output folder does not exist")
    patient = SimulatedPatient.open(Path(args.dir))
    try:
        _, name, signed = patient.decrypt(source, output, practice_key)
    finally:
        patient.close()
    if not signed:
        with contextlib.suppress(FileNotFoundError):
            output.unlink()
        raise CryptoError(f"{args.file}: not validly signed by the practice key - output discarded")
    print(f"Entschlüsselt / decrypted: {output} (name in the message: {name}; signed by the practice)")
    return 0


def _patient_share(args: argparse.Namespace) -> int:
    """Each FILE becomes one share on the platform: signed by the patient (unless
    --unsigned, an attack for trials) and encrypted to the practice's key."""
    from practice_client.testbed.shares import ShareStore

    try:
        practice_key = Path(args.practice_key).read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError):
        raise InputError(args.practice_key, "cannot read the practice's public key") from None
    if "BEGIN PGP PUBLIC KEY BLOCK" not in practice_key:
        raise InputError(args.practice_key, "not an ASCII-armored OpenPGP public key")
    if args.date and parse_birth_date(args.date) != args.date:
        raise InputError(args.date, "not a date (YYYY-MM-DD)")
    files = [Path(f) for f in args.files]
    for file in files:
        if not file.is_file():
            raise InputError(file, "no such file")
    store = ShareStore(Path(args.platform_data))
    patient = SimulatedPatient.open(Path(args.dir))
    try:
        for file in files:
            shared = patient.share(file.read_bytes(), file.name, practice_key, args.practice_id,
                                   document_type=args.type, document_date=args.date, signed=not args.unsigned)
            store.publish(shared.document, shared.manifest, shared.share_id)
            print(f"{file}: geteilt / shared as {shared.share_id}"
                  + (" (UNSIGNIERT / UNSIGNED)" if args.unsigned else ""))
    finally:
        patient.close()
    return 0


def _patient_receipts(args: argparse.Namespace) -> int:
    """What the patient's app shows for each share: the practice's receipt, if any."""
    from practice_client.testbed.shares import ShareStore

    store = ShareStore(Path(args.platform_data))
    for share_id in args.share_ids:
        status = store.receipt_of(share_id)
        print(f"{share_id}: {status or 'noch keine Empfangsbestätigung / no receipt yet'}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Adds ``patient`` and ``authority`` to the ``testbed`` sub-commands."""
    auth = sub.add_parser("authority", help="the platform's identity-verification authority (testbed)")
    a = auth.add_subparsers(dest="authority_action", required=True)
    ac = a.add_parser("create", help="create the authority's key; writes DIR/ident.asc")
    ac.add_argument("--dir", required=True, metavar="DIR", help="a short path (gpg-agent socket)")
    ac.add_argument("--implementation", choices=sorted(TOOLS), default="gnupg",
                    help="the OpenPGP implementation the identity service runs (default: gnupg)")
    ac.set_defaults(func=_authority_create)

    pat = sub.add_parser("patient", help="the simulated patient app")
    p = pat.add_subparsers(dest="patient_action", required=True)
    pc = p.add_parser("create", help="create a patient with a signing and an encryption key")
    pc.add_argument("--dir", required=True, metavar="DIR", help="a short path (gpg-agent socket)")
    pc.add_argument("--name", required=True)
    pc.add_argument("--birth-date", required=True, metavar="YYYY-MM-DD")
    pc.add_argument("--phone", required=True)
    pc.add_argument("--implementation", choices=sorted(TOOLS), default="gnupg",
                    help="the OpenPGP implementation the patient's app is built on (default: gnupg); "
                         "later commands on --dir use the same one")
    pc.add_argument("--key-type", choices=[*KEY_TYPES, *RFC9580_KEY_TYPES], default="ed25519",
                    help="default: ed25519 (with a Curve25519 encryption subkey)")
    pc.add_argument("--structure", choices=STRUCTURES, default="default",
                    help="the key's layout: the implementation's usual one, signing by a subkey, or an "
                         "expired and a revoked encryption subkey next to a valid one")
    pc.set_defaults(func=_patient_create)
    cert = p.add_parser("certificate", help="have the authority issue the patient's trust certificate")
    cert.add_argument("--dir", required=True, metavar="DIR")
    cert.add_argument("--authority", required=True, metavar="DIR")
    cert.add_argument("--output", metavar="FILE", help="default: stdout")
    cert.set_defaults(func=_patient_certificate)
    dec = p.add_parser("decrypt", help="open a delivered document and check the practice's signature")
    dec.add_argument("--dir", required=True, metavar="DIR")
    dec.add_argument("file", metavar="FILE")
    dec.add_argument("--practice-key", required=True, metavar="K.asc",
                     help="the practice's public key (practice-client key export)")
    dec.add_argument("--output", required=True, metavar="OUT")
    dec.set_defaults(func=_patient_decrypt)
    sh = p.add_parser("share", help="share documents with the practice (signed, encrypted to the practice)")
    sh.add_argument("--dir", required=True, metavar="DIR")
    sh.add_argument("files", nargs="+", metavar="FILE")
    sh.add_argument("--platform-data", required=True, metavar="DIR", help="the testbed platform's data folder")
    sh.add_argument("--practice-key", required=True, metavar="K.asc",
                    help="the practice's public key (practice-client key export)")
    sh.add_argument("--practice-id", required=True, metavar="ID")
    sh.add_argument("--type", metavar="TYPE", help="the document type the manifest names (e.g. Befund)")
    sh.add_argument("--date", metavar="YYYY-MM-DD", help="the document's date the manifest names")
    sh.add_argument("--unsigned", action="store_true", help="an attack: share without the patient's signature")
    sh.set_defaults(func=_patient_share)
    rc = p.add_parser("receipts", help="the practice's receipts of shares, as the patient's app shows them")
    rc.add_argument("--dir", required=True, metavar="DIR")
    rc.add_argument("--platform-data", required=True, metavar="DIR")
    rc.add_argument("share_ids", nargs="+", metavar="SHARE_ID")
    rc.set_defaults(func=_patient_receipts)
    testbed_request.register_patient_request(p)
