"""Pairing a workstation with the practice service: one short code, no man in the middle.

The admin runs ``practice-client service pair`` on the service's machine and reads the
code to whoever sits at the workstation (``SS-PPPP-PPPP``: a two-digit slot, eight
digits of password). The workstation connects to the address it was given *without*
knowing the service's certificate yet, so the code must authenticate both ends and the
certificate:

1. workstation -> service: SPAKE2 message A over the code (``spake2``, as magic-wormhole
   uses it); service -> workstation: message B and ``confirm_s``. Both derive the same
   key K only if both used the same code; an attacker gets one guess per attempt, and
   each code allows :data:`ATTEMPTS` attempts within :data:`LIFETIME_SECONDS`.
2. From K (HKDF-SHA256 over the transcript) come three keys. ``confirm_s`` is an HMAC
   over the SPKI pin of the service's *own* certificate; the workstation checks it with
   the pin of the certificate its TLS connection *saw*. A man in the middle terminating
   TLS shows another certificate, and relaying the SPAKE2 messages does not give him K:
   the pins differ, the workstation stops before it sends anything else.
3. workstation -> service: ``confirm_w`` (HMAC over the same pin): the service knows the
   workstation holds the code and saw its certificate. Only then does it create the
   workstation's credential (256 random bits; the service keeps its SHA-256) and sends
   it sealed with AES-256-GCM under the third key.

The whole exchange runs on one TLS connection (the pin is that connection's). A code is
used once; a failed attempt is counted before the answer is sent.

Each side's state machine lives here side by side: :class:`Offers` (service),
:func:`pair_with_service` (workstation).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.client
import json
import re
import secrets as _random
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from spake2 import SPAKE2_A, SPAKE2_B
from spake2.spake2 import SPAKEError

from practice_client.core.errors import InputError, NetworkError, StateError
from practice_client.core.text import Text
from practice_client.service.wire import answer_text

ID_WORKSTATION = b"practice-client workstation"
ID_SERVICE = b"practice-client service"
ATTEMPTS = 3
LIFETIME_SECONDS = 600
CODE_RE = re.compile(r"^(\d{2})-?(\d{4})-?(\d{4})$")
ROLES = ("staff", "admin")


class PairingRefused(StateError):
    """Wrong or expired code, or someone in between: nothing was paired."""


@dataclass(frozen=True)
class Keys:
    service: bytes
    workstation: bytes
    seal: bytes
    transcript: bytes


def _keys(shared: bytes, slot: str, msg_a: bytes, msg_b: bytes) -> Keys:
    transcript = hashlib.sha256(b"practice-client pairing v1\0" + slot.encode() + b"\0" + msg_a + msg_b).digest()
    okm = HKDF(hashes.SHA256(), 96, salt=transcript, info=b"practice-client pairing keys").derive(shared)
    return Keys(okm[:32], okm[32:64], okm[64:], transcript)


def _confirm(key: bytes, side: bytes, pin: str) -> bytes:
    return hmac.new(key, side + b"\0" + pin.encode("ascii"), hashlib.sha256).digest()


def parse_code(code: str) -> tuple[str, bytes]:
    """(slot, password) of a code as staff type it (spaces and dashes optional)."""
    match = CODE_RE.match("".join(code.split()))
    if match is None:
        raise InputError("code", "not a pairing code (like 42-1234-5678)")
    slot = match.group(1)
    return slot, f"{slot}-{match.group(2)}-{match.group(3)}".encode("ascii")


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(value: Any, what: str) -> bytes:
    try:
        return base64.b64decode(str(value), validate=True)
    except (ValueError, TypeError):
        raise InputError(what, "not base64") from None


# -- the service's side ---------------------------------------------------------------------


@dataclass
class Offer:
    """One code the admin created: good for :data:`ATTEMPTS` attempts until ``expires``."""

    slot: str
    password: bytes
    role: str
    name: str
    expires: float
    attempts: int = ATTEMPTS
    sessions: dict[str, tuple[Keys, dict[str, str]]] = field(default_factory=dict)


@dataclass(frozen=True)
class Paired:
    """What a finished pairing hands the service to record (the credential goes sealed)."""

    workstation_id: str
    name: str
    role: str
    credential: str


class Offers:
    """The open pairing codes, in memory only: a restart of the service voids them."""

    def __init__(self, pin: str, clock: Any = time.monotonic) -> None:
        self._pin = pin
        self._clock = clock
        self._lock = threading.Lock()
        self._offers: dict[str, Offer] = {}

    def create(self, role: str, name: str) -> str:
        """A new one-time code (``SS-PPPP-PPPP``) for a workstation of ``role``."""
        if role not in ROLES:
            raise InputError("role", f"must be one of {', '.join(ROLES)}")
        with self._lock:
            self._expire()
            free = [f"{n:02d}" for n in range(10, 100) if f"{n:02d}" not in self._offers]
            if not free:
                raise StateError("too many open pairing codes: wait until some are used or expire")
            slot = free[_random.randbelow(len(free))]
            digits = f"{_random.randbelow(10**8):08d}"
            code = f"{slot}-{digits[:4]}-{digits[4:]}"
            self._offers[slot] = Offer(slot, code.encode("ascii"), role, name.strip()[:64],
                                       self._clock() + LIFETIME_SECONDS)
        return code

    def _expire(self) -> None:
        now = self._clock()
        for slot in [s for s, o in self._offers.items() if o.expires <= now or o.attempts <= 0 and not o.sessions]:
            del self._offers[slot]

    def start(self, slot: str, message_a: bytes, claims: dict[str, str]) -> dict[str, str]:
        """Step 1 on the service: one attempt counted, message B and confirm_s answered."""
        with self._lock:
            self._expire()
            offer = self._offers.get(slot)
            if offer is None or offer.attempts <= 0:
                raise PairingRefused("unknown or expired pairing code")
            offer.attempts -= 1
            side = SPAKE2_B(offer.password, idA=ID_WORKSTATION, idB=ID_SERVICE)
            message_b = side.start()
            try:
                shared = side.finish(message_a)
            except (SPAKEError, ValueError, IndexError):
                raise PairingRefused("the pairing message is malformed") from None
            keys = _keys(shared, slot, message_a, message_b)
            session = _random.token_urlsafe(16)
            offer.sessions[session] = (keys, claims)
        return {"session": f"{slot}.{session}", "message": _b64(message_b),
                "confirm": _b64(_confirm(keys.service, b"service", self._pin))}

    def finish(self, session: str, confirm_w: bytes) -> tuple[Paired, dict[str, str], Keys]:
        """Step 3 on the service: the workstation proved the code and our pin. The offer
        is used up; the caller records the workstation and seals the credential."""
        slot, _, token = session.partition(".")
        with self._lock:
            offer = self._offers.get(slot)
            found = offer.sessions.pop(token, None) if offer else None
            if offer is None or found is None:
                raise PairingRefused("unknown or expired pairing session")
            keys, claims = found
            if not hmac.compare_digest(confirm_w, _confirm(keys.workstation, b"workstation", self._pin)):
                self._expire()
                raise PairingRefused("the workstation did not confirm the code and this service's certificate")
            del self._offers[slot]
        name = offer.name or claims.get("hostname", "")[:64] or "workstation"
        paired = Paired(_random.token_hex(8), name, offer.role, _random.token_urlsafe(32))
        return paired, claims, keys


def seal_credential(keys: Keys, paired: Paired) -> dict[str, str]:
    nonce = _random.token_bytes(12)
    body = json.dumps({"workstation_id": paired.workstation_id, "credential": paired.credential,
                       "role": paired.role, "name": paired.name}).encode()
    return {"nonce": _b64(nonce), "sealed": _b64(AESGCM(keys.seal).encrypt(nonce, body, keys.transcript))}


# -- the workstation's side -----------------------------------------------------------------


@dataclass(frozen=True)
class Pairing:
    """What a workstation keeps after pairing: the pin and certificate of the service it
    talked to, and its own credential (for its keyring)."""

    workstation_id: str
    name: str
    role: str
    credential: str
    pin: str
    cert_pem: bytes


def pair_with_service(host: str, port: int, code: str, claims: dict[str, str], timeout: float = 30.0) -> Pairing:
    """Run the workstation's side on one TLS connection to ``host:port``. Raises
    :class:`PairingRefused` for a wrong code or a certificate the code does not confirm."""
    import ssl

    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    from practice_client.service.tls import client_context, peer_pin

    slot, password = parse_code(code)
    side = SPAKE2_A(password, idA=ID_WORKSTATION, idB=ID_SERVICE)
    message_a = side.start()
    conn = http.client.HTTPSConnection(host, port, timeout=timeout, context=client_context(None))
    try:
        try:
            conn.connect()
            assert isinstance(conn.sock, ssl.SSLSocket)
            seen_pin = peer_pin(conn.sock)
            der = conn.sock.getpeercert(binary_form=True) or b""
            started = _post(conn, "/v1/pairing/start", {"slot": slot, "message": _b64(message_a), **claims})
            try:
                shared = side.finish(_unb64(started.get("message"), "message"))
            except (SPAKEError, ValueError, IndexError):
                raise PairingRefused("the service's pairing answer is malformed") from None
            keys = _keys(shared, slot, message_a, _unb64(started.get("message"), "message"))
            if not hmac.compare_digest(_unb64(started.get("confirm"), "confirm"),
                                       _confirm(keys.service, b"service", seen_pin)):
                raise PairingRefused(
                    "the code does not confirm this service: a wrong code, or someone between this "
                    "workstation and the service - nothing was paired")
            finished = _post(conn, "/v1/pairing/finish", {
                "session": str(started.get("session", "")),
                "confirm": _b64(_confirm(keys.workstation, b"workstation", seen_pin))})
            if peer_pin(conn.sock) != seen_pin:  # the same connection all along
                raise PairingRefused("the connection changed during pairing")
        except (OSError, http.client.HTTPException) as exc:
            raise NetworkError(f"{host}:{port}: cannot reach the practice service ({type(exc).__name__})") from None
    finally:
        conn.close()
    try:
        body = json.loads(AESGCM(keys.seal).decrypt(_unb64(finished.get("nonce"), "nonce"),
                                                     _unb64(finished.get("sealed"), "sealed"), keys.transcript))
    except Exception:
        raise PairingRefused("the service's credential did not open under the pairing key") from None
    cert_pem = x509.load_der_x509_certificate(der).public_bytes(serialization.Encoding.PEM)
    return Pairing(str(body["workstation_id"]), str(body["name"]), str(body["role"]), str(body["credential"]),
                   seen_pin, cert_pem)


def _post(conn: http.client.HTTPSConnection, path: str, body: dict[str, str]) -> dict[str, Any]:
    conn.request("POST", path, json.dumps(body).encode(), {"Content-Type": "application/json"})
    answer = conn.getresponse()
    data = answer.read(64 * 1024)
    if answer.status != 200:
        try:
            value = json.loads(data)
        except ValueError:
            value = {}
        message = answer_text(value) if isinstance(value, dict) else None
        if answer.status in (401, 403):
            raise PairingRefused(message or Text("der Praxis-Dienst hat den Kopplungscode abgelehnt",
                                                 "the service refused the pairing code"))
        raise NetworkError(Text(f"der Praxis-Dienst antwortete {answer.status}: ",
                                f"the practice service answered {answer.status}: ") + (message or Text.same("")))
    value = json.loads(data)
    if not isinstance(value, dict):
        raise NetworkError("the practice service's answer is not a JSON object")
    return value
