"""The testbed's own certificate authority, so the client talks to it exactly as to
production: real TLS, verification on, the CA handed over as ``--ca-file``.

Layout in the data directory: ``ca.pem`` (public, what clients trust),
``server.pem`` and ``server-key.pem`` (0600). The CA's private key is never
written: it signs the server certificate once and is gone, so nobody can mint a
second certificate the clients would trust. Files that are present are reused
(the demo and the tests restart the platform on the same data).
"""

from __future__ import annotations

import datetime
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from practice_client.core.atomic import atomic_write

VALIDITY = datetime.timedelta(days=825)


@dataclass(frozen=True)
class TlsFiles:
    """Where the testbed's CA and server credentials are."""

    ca_file: Path
    cert_file: Path
    key_file: Path


def tls_files(data_dir: Path) -> TlsFiles:
    return TlsFiles(data_dir / "ca.pem", data_dir / "server.pem", data_dir / "server-key.pem")


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Practice Client Testbed"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _issue(data_dir: Path) -> tuple[bytes, bytes, bytes]:
    """A fresh CA certificate and a server certificate for 127.0.0.1 / localhost."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = _name(f"Testbed CA {data_dir.name}")
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + VALIDITY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False, content_commitment=False, key_encipherment=False,
                data_encipherment=False, key_agreement=False, key_cert_sign=True,
                crl_sign=True, encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )
    server_key = ec.generate_private_key(ec.SECP256R1())
    server_cert = (
        x509.CertificateBuilder()
        .subject_name(_name("127.0.0.1"))
        .issuer_name(ca_name)
        .public_key(server_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + VALIDITY)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
            ),
            critical=False,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    key_pem = server_key.private_bytes(
        pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return ca_cert.public_bytes(pem), server_cert.public_bytes(pem), key_pem


def ensure_ca(data_dir: Path) -> TlsFiles:
    """The CA and server credentials of ``data_dir``, created on first use."""
    files = tls_files(data_dir)
    if all(p.is_file() for p in (files.ca_file, files.cert_file, files.key_file)):
        return files
    data_dir.mkdir(parents=True, exist_ok=True)
    ca_pem, cert_pem, key_pem = _issue(data_dir)
    atomic_write(files.key_file, key_pem, mode=0o600)
    atomic_write(files.cert_file, cert_pem, mode=0o644)
    atomic_write(files.ca_file, ca_pem, mode=0o644)
    return files
