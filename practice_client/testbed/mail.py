"""Request messages as the platform sends them, for the demo and the tests.

The simulated patient signs the request JSON (detached OpenPGP signature over the
exact bytes); the platform wraps JSON, signature and a German summary in a
``multipart/mixed`` message and DKIM-signs it with its own key, whose public half
the loopback DNS server (:mod:`practice_client.testbed.dns`) publishes.
Each step is a separate function so tests can build messages made for an attack
(alter after signing, sign with a foreign domain, leave From out of ``h=``...).
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path
from typing import Any

import dkim
import nacl.encoding
import nacl.signing
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from dkim.canonicalization import CanonicalizationPolicy
from dkim.crypto import parse_pem_private_key

from practice_client.core.atomic import atomic_write
from practice_client.core.errors import InputError

DEFAULT_HEADERS = ("from", "to", "subject", "date", "message-id", "content-type", "mime-version")
CONSENT_TEXT = (
    "Ich bin einverstanden, dass die Praxis mir die genannten Unterlagen "
    "Ende-zu-Ende-verschlüsselt über die Plattform übermittelt."
)


def iso(moment: datetime) -> str:
    """The request format's timestamps: ISO 8601, UTC, seconds, with Z."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class DkimKey:
    """A DKIM signing key and its DNS TXT record (``<selector>._domainkey.<domain>``)."""

    domain: str
    selector: str
    algorithm: str  # "rsa-sha256" | "ed25519-sha256" | "rsa-sha1"
    private: bytes  # what dkimpy's sign() takes
    txt: str

    @property
    def record_name(self) -> str:
        return f"{self.selector}._domainkey.{self.domain}"

    @classmethod
    def generate(cls, domain: str, selector: str, algorithm: str = "rsa-sha256", rsa_bits: int = 2048) -> DkimKey:
        if algorithm == "ed25519-sha256":
            signing = nacl.signing.SigningKey.generate()
            public = base64.b64encode(bytes(signing.verify_key)).decode()
            return cls(domain, selector, algorithm, base64.b64encode(bytes(signing)),
                       f"v=DKIM1; k=ed25519; p={public}")
        key = rsa.generate_private_key(public_exponent=65537, key_size=rsa_bits)
        pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
        der = key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return cls(domain, selector, algorithm, pem, f"v=DKIM1; k=rsa; p={base64.b64encode(der).decode()}")


def platform_dkim_key(data_dir: Path, domain: str, selector: str = "testbed") -> DkimKey:
    """The testbed platform's own DKIM key, kept in ``<data dir>/dkim/<selector>.json``
    (created on first use, mode 0600) so the DNS server and the mailer agree on it."""
    path = Path(data_dir) / "dkim" / f"{selector}.json"
    if path.is_file():
        try:
            data = json.loads(path.read_text("utf-8"))
            key = DkimKey(data["domain"], data["selector"], data["algorithm"],
                          base64.b64decode(data["private"]), data["txt"])
        except (OSError, ValueError, KeyError, TypeError):
            raise InputError(path, "not a testbed DKIM key file") from None
        if key.domain != domain:
            raise InputError(path, f"the key belongs to {key.domain}, not {domain}")
        return key
    key = DkimKey.generate(domain, selector)
    path.parent.mkdir(parents=True, exist_ok=True)
    record = {"domain": key.domain, "selector": key.selector, "algorithm": key.algorithm,
              "private": base64.b64encode(key.private).decode(), "txt": key.txt}
    atomic_write(path, json.dumps(record, indent=2).encode(), 0o600)
    return key


def published_dkim_records(data_dir: Path) -> dict[str, str]:
    """Every DKIM TXT record of the keys in ``<data dir>/dkim/`` (for the DNS server)."""
    records: dict[str, str] = {}
    for path in sorted((Path(data_dir) / "dkim").glob("*.json")):
        data = json.loads(path.read_text("utf-8"))
        records[f"{data['selector']}._domainkey.{data['domain']}"] = data["txt"]
    return records


def request_json(
    *,
    practice_id: str,
    name: str,
    birth_date: str,
    phone: str,
    fingerprint: str,
    now: datetime | None = None,
    valid_for: timedelta = timedelta(days=14),
    documents: Sequence[str] = ("Arztbrief", "Befund"),
    request_id: str | None = None,
    **overrides: Any,
) -> bytes:
    """The request JSON bytes (DESIGN.md); ``overrides`` replace top-level fields."""
    now = now or datetime.now(UTC)
    data: dict[str, Any] = {
        "version": 1,
        "request_id": request_id or str(uuid.uuid4()),
        "created_at": iso(now),
        "expires_at": iso(now + valid_for),
        "practice_id": practice_id,
        "patient": {"name": name, "birth_date": birth_date, "phone": phone, "fingerprint": fingerprint},
        "documents": list(documents),
        "period": {"from": "2025-01-01", "to": now.date().isoformat()},
        "consent": {"text": CONSENT_TEXT, "signed_at": iso(now)},
    }
    data.update(overrides)
    return json.dumps(data, ensure_ascii=False, indent=2).encode("utf-8")


def summary_text(request: bytes, phone: str | None = None) -> str:
    """The human-readable German part; it states the phone number (checked against the JSON)."""
    data = json.loads(request)
    return (
        "Neue Dokumentenanfrage über die Plattform\n\n"
        f"Patient: {data['patient']['name']}\n"
        f"Geburtsdatum: {data['patient']['birth_date']}\n"
        f"Telefon: {phone if phone is not None else data['patient']['phone']}\n"
        f"Unterlagen: {', '.join(data['documents'])}\n"
        f"Zeitraum: {data['period']['from']} bis {data['period']['to']}\n"
        f"Gültig bis: {data['expires_at']}\n"
    )


def build_message(
    request: bytes,
    signature: bytes,
    *,
    sender: str,
    recipient: str,
    text: str | None = None,
    subject: str = "Neue Dokumentenanfrage",
    date: datetime | None = None,
) -> bytes:
    """The unsigned multipart/mixed message with CRLF line ends (as it travels)."""
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = recipient
    msg["Subject"] = subject
    msg["Date"] = format_datetime(date or datetime.now(UTC))
    msg["Message-ID"] = make_msgid(domain=sender.rsplit("@", 1)[-1].strip(">"))
    msg.set_content(text if text is not None else summary_text(request))
    msg.add_attachment(request, maintype="application", subtype="json", filename="request.json")
    msg.add_attachment(signature, maintype="application", subtype="pgp-signature", filename="request.json.sig")
    for part in msg.iter_parts():
        if part.get_content_type() == "application/pgp-signature":
            part.set_param("name", "request.json.sig")
        elif part.get_content_type() == "application/json":
            part.set_param("name", "request.json")
    return msg.as_bytes(policy=msg.policy.clone(linesep="\r\n"))


def dkim_sign(
    message: bytes,
    key: DkimKey,
    *,
    headers: Sequence[str] = DEFAULT_HEADERS,
    length: bool = False,
    domain: str | None = None,
    timestamps: tuple[int, int] | None = None,
) -> bytes:
    """Prepend a DKIM-Signature by ``key`` (``domain`` overrides d=, for attack tests).

    Without "from" in ``headers`` this builds what a phisher replays, and with
    ``timestamps`` (t=, x=) a signature with an expiry: dkimpy's own ``sign()`` offers
    neither, so those headers are generated from dkimpy's parts."""
    if "from" not in headers or timestamps is not None:
        return _sign_manually(message, key, headers, domain or key.domain, timestamps) + message
    signature: bytes = dkim.sign(
        message, key.selector.encode(), (domain or key.domain).encode(), key.private,
        signature_algorithm=key.algorithm.encode(), include_headers=[h.encode() for h in headers],
        length=length, canonicalize=(b"relaxed", b"relaxed"),
    )
    return signature + message


def _sign_manually(
    message: bytes, key: DkimKey, headers: Sequence[str], domain: str, timestamps: tuple[int, int] | None
) -> bytes:
    signer = dkim.DKIM(message, signature_algorithm=key.algorithm.encode())
    policy = CanonicalizationPolicy.from_c_value(b"relaxed/relaxed")
    included = tuple(h.encode().lower() for h in headers)
    body_hash = base64.b64encode(hashlib.sha256(policy.canonicalize_body(signer.body)).digest())
    fields = [
        (b"v", b"1"), (b"a", key.algorithm.encode()), (b"c", b"relaxed/relaxed"), (b"d", domain.encode()),
        (b"s", key.selector.encode()), (b"t", str(timestamps[0] if timestamps else int(time.time())).encode()),
        *([(b"x", str(timestamps[1]).encode())] if timestamps else []),
        (b"h", b" : ".join(included)), (b"bh", body_hash), (b"b", b"0" * 60),
    ]
    signer.hasher = dkim.HASH_ALGORITHMS[key.algorithm.encode()]
    if key.algorithm == "ed25519-sha256":
        private: Any = nacl.signing.SigningKey(key.private, encoder=nacl.encoding.Base64Encoder)
    else:
        private = parse_pem_private_key(key.private)
    header: bytes = signer.gen_header(fields, included, policy, b"DKIM-Signature", private)
    return b"DKIM-Signature: " + header


Signer = Callable[[bytes], bytes]


def platform_request(
    signer: Signer,
    dkim_key: DkimKey,
    *,
    practice_id: str,
    name: str,
    birth_date: str,
    phone: str,
    fingerprint: str,
    recipient: str = "praxis@example.org",
    now: datetime | None = None,
    **overrides: Any,
) -> bytes:
    """A complete, valid request message: the patient signs, the platform DKIM-signs."""
    request = request_json(
        practice_id=practice_id, name=name, birth_date=birth_date, phone=phone,
        fingerprint=fingerprint, now=now, **overrides,
    )
    unsigned = build_message(
        request, signer(request), sender=f"Plattform <anfragen@{dkim_key.domain}>", recipient=recipient,
    )
    return dkim_sign(unsigned, dkim_key)
