"""Staff's decisions on requests, and reporting them to the platform.

Rules:
- only ``open`` requests can be decided;
- a ``rejected`` request (a failed check: phishing, wrong patient, replay...) can
  never be accepted, not even with an override;
- a request that is not ``verified`` (needs review) is accepted only with an
  explicit override *and* a reason, both in the audit log;
- an expired request is not accepted (the patient's consent has run out);
- a request whose key is no longer the patient's pin (re-pinned since it arrived) is not
  accepted; an accept records the key, and documents go to that key only;
- declining needs a reason.
Accepting creates the per-request export subfolder ``<export dir>/<request id>/``
(DESIGN.md, PMS integration) before the state changes, so an accepted request
always has its folder.

Decisions are queued in the store and reported to the platform by
:func:`flush_decisions` whenever it is reachable. A decline's reason is for the patient,
not for the platform: it goes as an OpenPGP message, signed by the practice key and
encrypted to the patient's pinned key (and the practice's), like a document's manifest -
the JSON ``{"version": 1, "request_id", "decision", "reason", "decided_at"}``, so it
cannot be moved to another request. A request whose patient has no pinned key gets the
decline without a reason (the reason stays in the practice). An accept's internal
override reason always stays in the practice.
"""

from __future__ import annotations

import contextlib
import json
import logging
import tempfile
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from practice_client.core.errors import NetworkError, PlatformRefused, PracticeClientError, StateError
from practice_client.core.models import RequestRecord, RequestStatus, Verdict
from practice_client.core.text import Text
from practice_client.crypto.gpg import short_temp_root
from practice_client.crypto.patient_keys import recipient_file, recipient_key

if TYPE_CHECKING:
    from practice_client.context import Context
    from practice_client.platform.api import PlatformClient

log = logging.getLogger(__name__)

MAX_REASON_CHARS = 1000


def _open_request(ctx: Context, request_id: str) -> RequestRecord:
    record = ctx.store.get_request(request_id)
    if record is None:
        raise StateError(Text("keine solche Anfrage", "no such request").prefixed(f"{request_id}: "))
    if record.status is not RequestStatus.OPEN:
        raise StateError(Text(f"die Anfrage ist bereits {record.status}",
                              f"the request is already {record.status}").prefixed(f"{request_id}: "))
    return record


def _reason(reason: str | None) -> str | None:
    text = " ".join((reason or "").split())
    if len(text) > MAX_REASON_CHARS:
        raise StateError(f"the reason is too long (at most {MAX_REASON_CHARS} characters)")
    return text or None


def export_folder(ctx: Context, request_id: str) -> Path | None:
    """``<export dir>/<request id>/``; None when no export folder is configured."""
    if not ctx.config.export_dir:
        return None
    return Path(ctx.config.export_dir) / str(uuid.UUID(request_id))


def accept(ctx: Context, request_id: str, *, override: bool = False, reason: str | None = None,
           now: datetime | None = None) -> RequestRecord:
    """Accept an open request (see the module's rules) and create its export subfolder."""
    record = _open_request(ctx, request_id)
    why = _reason(reason)
    if record.verdict is Verdict.REJECTED:
        raise StateError(Text(
            "abgelehnte Anfragen (Prüfung fehlgeschlagen) können nicht angenommen werden",
            "a request that failed verification can never be accepted",
        ).prefixed(f"{request_id}: "))
    if record.verdict is not Verdict.VERIFIED and not (override and why):
        raise StateError(Text(
            "die Anfrage muss geprüft werden - nur mit --override und --reason annehmen",
            "the request needs review: accept it only with --override and --reason",
        ).prefixed(f"{request_id}: "))
    if record.expires_at and datetime.fromisoformat(record.expires_at.replace("Z", "+00:00")) <= (
        now or datetime.now(UTC)
    ):
        raise StateError(Text("die Anfrage ist abgelaufen", "the request has expired").prefixed(f"{request_id}: "))
    pin = ctx.store.get_pin(record.patient_fingerprint or "")
    if pin is None or pin.patient_number != record.patient_number:
        raise StateError(Text(
            "der Schlüssel dieser Anfrage ist nicht mehr für den Patienten hinterlegt "
            "(neu angeheftet?) - der Patient muss neu anfragen",
            "the key that signed this request is no longer the patient's pinned key (re-pinned?): "
            "the patient must ask again",
        ).prefixed(f"{request_id}: "))
    folder = export_folder(ctx, request_id)
    created = False
    if folder is not None:
        if not folder.parent.is_dir():
            raise StateError(Text("der Exportordner fehlt",
                                  "the export folder does not exist").prefixed(f"{folder.parent}: "))
        created = not folder.exists()
        folder.mkdir(mode=0o770, exist_ok=True)
    try:
        overridden = override and record.verdict is not Verdict.VERIFIED
        return ctx.store.decide(request_id, RequestStatus.ACCEPTED, why, overridden, pin.fingerprint)
    except BaseException:
        if created and folder is not None:
            with contextlib.suppress(OSError):
                folder.rmdir()
        raise


def decline(ctx: Context, request_id: str, *, reason: str | None) -> RequestRecord:
    """Decline an open request; the reason is required (it goes to the patient, encrypted)."""
    why = _reason(reason)
    if not why:
        raise StateError(Text("bitte einen Grund angeben",
                              "a reason is required (--reason)").prefixed(f"{request_id}: "))
    _open_request(ctx, request_id)
    return ctx.store.decide(request_id, RequestStatus.DECLINED, why, False)


def flush_decisions(ctx: Context, client: PlatformClient | None = None) -> int:
    """Report queued decisions to the platform; returns how many were sent.

    Stops at the first network failure (the rest stay queued for the next call); a
    decision the platform refuses for good leaves the queue, audited, and the next goes."""
    pending = ctx.store.pending_decisions()
    if not pending:
        return 0
    if client is None:
        with ctx.platform() as own:
            return flush_decisions(ctx, own)
    sent = 0
    for record in pending:
        decision = "accepted" if record.status is RequestStatus.ACCEPTED else "declined"
        reason = sealed_reason(ctx, record) if decision == "declined" else ""
        try:
            client.send_decision(record.request_id, decision, reason)
        except PlatformRefused as exc:
            log.warning("decision for %s refused by the platform: %s", record.request_id, exc)
            ctx.store.mark_decision_refused(record.request_id, str(exc))
            continue
        except NetworkError as exc:
            log.info("decision for %s stays queued: %s", record.request_id, exc)
            break
        ctx.store.mark_decision_sent(record.request_id, reason=(
            "encrypted for the patient" if reason else "kept in the practice" if record.decision_reason else "none"))
        sent += 1
    if sent:
        from practice_client.crypto.checkpoint import send_checkpoint

        send_checkpoint(ctx, client)  # the audit log's head, anchored with the platform
    return sent


def sealed_reason(ctx: Context, record: RequestRecord) -> str:
    """The decline's reason for the patient's eyes only (see the module docstring): an
    ASCII-armored OpenPGP message, or "" when there is no reason or no pinned key."""
    pin = ctx.store.get_pin(record.patient_fingerprint) if record.patient_fingerprint else None
    if not record.decision_reason or pin is None:
        return ""
    patient = recipient_key(pin)
    content = {
        "version": 1, "request_id": record.request_id, "decision": "declined",
        "reason": record.decision_reason, "decided_at": record.decided_at,
    }
    practice = ctx.config.practice_key_fingerprint
    with tempfile.TemporaryDirectory(prefix="pcr", dir=short_temp_root()) as folder, \
            recipient_file(patient.armored, Path(folder)) as key:
        message = ctx.gpg.sign_encrypt_bytes(
            json.dumps(content, ensure_ascii=False, sort_keys=True).encode("utf-8"), [practice], practice,
            ctx.practice_passphrase(), "decision.json", recipient_files=[key], armor=True,
        )
    return message.decode("ascii")


def try_flush(ctx: Context) -> str:
    """Send queued decisions now if the platform is configured and reachable; a one-line
    status for the command line. Never raises for an unreachable platform."""
    if not ctx.config.server_url or ctx.config.offline:
        return str(Text("Plattform nicht eingerichtet - Entscheidung vorgemerkt",
                        "no platform configured: decision queued"))
    try:  # staff wait for this: give up quickly, the agent retries in the background
        with ctx.platform("interactive") as client:
            flush_decisions(ctx, client)
    except PracticeClientError as exc:
        log.info("decisions stay queued: %s", exc)
    if ctx.store.pending_decisions():
        return str(Text("Plattform nicht erreichbar - wird später gesendet",
                        "platform not reachable: will be sent later"))
    return str(Text("an die Plattform gemeldet", "reported to the platform"))
