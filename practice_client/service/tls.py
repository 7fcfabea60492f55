"""The practice service's own TLS identity and the TLS contexts of both ends.

The service is reached on the practice network by address (often an IP or a bare host
name), so no public CA can vouch for it. It makes its own key and certificate at the
first start (ECDSA P-256, ten years); the key is kept in the service's vault, the
certificate (public) next to it. Every workstation pins the certificate's SPKI
(SHA-256 of its SubjectPublicKeyInfo) at pairing, authenticated by the pairing code
(:mod:`practice_client.service.pairing`), and from then on trusts exactly that
certificate: verification on, the pinned certificate the only trust anchor, and the
SPKI compared on every new connection before a byte of a request is sent. Host names
are not checked - the pin is stronger, and the service may be renamed or re-addressed.
Both ends speak TLS 1.3 only: both are this program.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import secrets as _random
import socket
import ssl
import tempfile
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from practice_client.core.atomic import atomic_write
from practice_client.core.errors import SecretError
from practice_client.core.secrets import SecretStore
from practice_client.platform.tls import spki_sha256

TLS_KEY = "service-tls-key"  # the vault entry of the private key (PEM)


class ServiceIdentity:
    """The certificate (PEM) and its pin; the key stays in the vault."""

    def __init__(self, cert_pem: bytes, key_pem: bytes) -> None:
        self.cert_pem = cert_pem
        self._key_pem = key_pem
        der = x509.load_pem_x509_certificate(cert_pem).public_bytes(serialization.Encoding.DER)
        self.pin = spki_sha256(der)

    def server_context(self) -> ssl.SSLContext:
        """TLS 1.3 server context. ``load_cert_chain`` takes files only: the key goes to a
        private temporary file encrypted under a one-time password, removed at once."""
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_3
        password = _random.token_urlsafe(32)
        key = serialization.load_pem_private_key(self._key_pem, None)
        sealed = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                   serialization.BestAvailableEncryption(password.encode()))
        with tempfile.TemporaryDirectory(prefix="pc-tls-") as folder:
            cert_file, key_file = Path(folder) / "cert.pem", Path(folder) / "key.pem"
            cert_file.write_bytes(self.cert_pem)
            fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as handle:
                handle.write(sealed)
            context.load_cert_chain(cert_file, key_file, password)
        return context


def _names() -> list[x509.GeneralName]:
    names: list[x509.GeneralName] = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                                     x509.IPAddress(ipaddress.ip_address("::1"))]
    host = socket.gethostname()
    if host and host != "localhost":
        names.insert(0, x509.DNSName(host))
    return names


def create_identity() -> tuple[bytes, bytes]:
    """A new key and self-signed certificate: (cert PEM, key PEM)."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Practice Client service"),
                         x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Practice Client")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=3650))
        .add_extension(x509.SubjectAlternativeName(_names()), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_encipherment=False, content_commitment=False,
                                     data_encipherment=False, key_agreement=False, key_cert_sign=False,
                                     crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


def load_or_create(secrets: SecretStore, cert_file: Path) -> ServiceIdentity:
    """The service's identity: made at the first start, the same ever after (workstations
    pinned it). A certificate that does not belong to the vault's key is refused."""
    key_text = secrets.get(TLS_KEY)
    if key_text is None or not cert_file.exists():
        if key_text is not None or cert_file.exists():
            raise SecretError(f"{cert_file}: the service's certificate and its key in the vault do not "
                              "belong together (restore both, or re-pair every workstation after removing both)")
        cert_pem, key_pem = create_identity()
        secrets.set(TLS_KEY, key_pem.decode("ascii"))
        atomic_write(cert_file, cert_pem, mode=0o644)
        return ServiceIdentity(cert_pem, key_pem)
    cert_pem, key_pem = cert_file.read_bytes(), key_text.encode("ascii")
    cert_key = x509.load_pem_x509_certificate(cert_pem).public_key()
    vault_key = serialization.load_pem_private_key(key_pem, None).public_key()
    pub = (serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    if cert_key.public_bytes(*pub) != vault_key.public_bytes(*pub):
        raise SecretError(f"{cert_file}: the certificate is not the one of the service's key")
    return ServiceIdentity(cert_pem, key_pem)


def client_context(cert_pem: bytes | None) -> ssl.SSLContext:
    """A workstation's TLS 1.3 context: the pinned certificate its only trust anchor.
    ``None`` (pairing only): no verification here - the pairing code authenticates the
    SPKI the connection saw, and nothing is sent before that check succeeds."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.minimum_version = ssl.TLSVersion.TLSv1_3
    context.check_hostname = False
    if cert_pem is None:
        context.verify_mode = ssl.CERT_NONE
    else:
        context.verify_mode = ssl.CERT_REQUIRED
        context.load_verify_locations(cadata=cert_pem.decode("ascii"))
    return context


def peer_pin(sock: ssl.SSLSocket) -> str:
    der = sock.getpeercert(binary_form=True)
    if not der:
        raise ssl.SSLError("the service sent no certificate")
    return spki_sha256(der)
