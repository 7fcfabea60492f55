"""The server's copy of a patient's key, compared with the pin - and the pinned key's checks.

The recipient key is the patient's *pinned* key (from the trust certificate staff
verified), never the server's. The server's copy is fetched only to compare: a
mismatch is audited and raised as an alert - it blocks nothing, and the server's
key is never imported or used. The comparison (at most every few minutes per key)
and what every document would otherwise ask gpg and the keyring again live in one
:class:`KeyComparer` per pipeline.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from typing import TYPE_CHECKING, Protocol

from practice_client.core.errors import NetworkError
from practice_client.core.models import Pin
from practice_client.crypto.gpg import KeyInfo, inspect_keys
from practice_client.crypto.patient_keys import PatientKey, recipient_key

if TYPE_CHECKING:
    from practice_client.context import Context

log = logging.getLogger(__name__)

ALERTS_META = "alerts.server_key_mismatch"
COMPARE_TTL_SECONDS = 300.0


class KeySource(Protocol):
    def patient_key(self, fingerprint: str) -> str | None: ...


class KeyComparer:
    """Per pipeline: compares the server's copy of patient keys with the pins (at most every
    few minutes), and remembers what every document would otherwise ask gpg and the keyring
    again (the practice key's passphrase, which pinned keys were checked usable)."""

    def __init__(self) -> None:
        self._checked: dict[str, tuple[float, bool]] = {}
        self._usable: dict[str, tuple[float, PatientKey]] = {}
        self._passphrase: str | None = None
        self._lock = threading.Lock()

    def passphrase(self, ctx: Context) -> str:
        with self._lock:
            if self._passphrase is None:
                self._passphrase = ctx.practice_passphrase()
            return self._passphrase

    def recipient(self, ctx: Context, pin: Pin) -> PatientKey:
        """:func:`recipient_key`, re-checked every few minutes (expiry, revocation)."""
        with self._lock:
            cached = self._usable.get(pin.fingerprint)
        if cached and time.monotonic() - cached[0] < COMPARE_TTL_SECONDS:
            return cached[1]
        key = recipient_key(pin)
        with self._lock:
            self._usable[pin.fingerprint] = (time.monotonic(), key)
        return key

    def check(self, ctx: Context, source: KeySource | None, pin: Pin, pinned: PatientKey,
              document_id: str) -> bool:
        """True when the server's copy differs from the pin (the alert is recorded)."""
        if source is None:
            return False
        with self._lock:
            cached = self._checked.get(pin.fingerprint)
        if cached and time.monotonic() - cached[0] < COMPARE_TTL_SECONDS:
            return cached[1]
        try:
            served = source.patient_key(pin.fingerprint)
        except NetworkError:
            log.info("server copy of key %s not reachable; compared later", pin.fingerprint)
            return False
        mismatch = False
        if served is not None:
            mismatch = not same_key(pinned.info, served)
        with self._lock:
            self._checked[pin.fingerprint] = (time.monotonic(), mismatch)
        if mismatch:
            served_fprs = [k.fingerprint for k in inspect_keys(served or "")]
            ctx.store.record(
                "alert.server_key_mismatch", document_id=document_id, fingerprint=pin.fingerprint,
                patient_number=pin.patient_number, server_fingerprints=served_fprs,
            )
            raise_alert(ctx, pin.fingerprint)
            log.warning("ALERT: the server's copy of key %s differs from the pin", pin.fingerprint)
        return mismatch


def same_key(pinned: KeyInfo, served: str) -> bool:
    """The served key is the pinned key with the same usable encryption subkeys.

    Parsed in a throw-away home: the served key never enters the client's keyring."""
    served_keys = inspect_keys(served)
    if len(served_keys) != 1:
        return False
    other = served_keys[0]
    return other.fingerprint == pinned.fingerprint and set(other.encryption_subkeys) == set(
        pinned.encryption_subkeys
    )


def raise_alert(ctx: Context, fingerprint: str) -> None:
    current = set(alerts(ctx))
    current.add(fingerprint)
    ctx.store.set_meta(ALERTS_META, json.dumps(sorted(current)))


def alerts(ctx: Context) -> list[str]:
    """Fingerprints whose server copy differed from the pin (shown by the GUI and ``outbox``)."""
    raw = ctx.store.get_meta(ALERTS_META)
    return list(json.loads(raw)) if raw else []
