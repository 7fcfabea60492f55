"""Whom the client trusts: TLS for every connection it opens (platform API, IMAP, PAC)
and the SPKI pins of the platform.

Trust (:func:`tls_context`): the operating system's - ``truststore`` verifies through the
Windows and macOS certificate APIs (company roots, revocation as the OS does it) and uses
OpenSSL's system store elsewhere - plus the configured ``ca_file``. Nothing else: not
certifi's Mozilla bundle, not ``REQUESTS_CA_BUNDLE``/``CURL_CA_BUNDLE``.

Pins: the SHA-256 of the server certificate's SubjectPublicKeyInfo, checked on every new
connection before a byte of a request is sent (:mod:`practice_client.platform.http`); any
of several pins matches (a backup pin lets the platform rotate its key).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import ssl
from collections.abc import Sequence
from pathlib import Path

import truststore
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from practice_client.core.errors import InputError


def tls_context(ca_file: Path | None) -> ssl.SSLContext:
    """The OS trust store plus ``ca_file``, hostname checks on, TLS 1.2 at least."""
    context = truststore.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if ca_file is not None:
        try:
            context.load_verify_locations(cafile=str(ca_file))
        except (OSError, ssl.SSLError) as exc:
            problem = getattr(exc, "strerror", None) or getattr(exc, "reason", None) or exc
            raise InputError(ca_file, f"cannot load the CA file: {problem}") from None
    return context


def spki_sha256(der_certificate: bytes) -> str:
    """The SPKI pin of a certificate: base64 of SHA-256 over its SubjectPublicKeyInfo."""
    cert = x509.load_der_x509_certificate(der_certificate)
    spki = cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return base64.b64encode(hashlib.sha256(spki).digest()).decode("ascii")


def spki_sha256_pem(pem: bytes) -> str:
    """The SPKI pin of a PEM certificate (for admins computing the pin to configure)."""
    cert = x509.load_pem_x509_certificate(pem)
    return spki_sha256(cert.public_bytes(serialization.Encoding.DER))


def _normalize_pin(pin: str) -> str:
    value = pin.strip().removeprefix("sha256/")
    try:
        if len(base64.b64decode(value, validate=True)) != 32:
            raise ValueError
    except (binascii.Error, ValueError):
        raise InputError("spki_pin", "not a base64 SHA-256 value (44 characters)") from None
    return value


def normalize_pins(pins: Sequence[str]) -> frozenset[str]:
    """Each pin checked (``sha256/`` prefix allowed); an empty sequence: no pinning."""
    return frozenset(_normalize_pin(p) for p in pins if p.strip())


class PinMismatch(Exception):
    """The server's public key is none of the pinned ones (raised inside urllib3's connect)."""
