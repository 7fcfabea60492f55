"""Staff's decisions on a share: release from quarantine (admin role, with a reason) and
discard. Both are audited with the actor who took them.

An :class:`Actor` carries its role: under the practice service the role its workstation
was paired with (the service's ``share.release``/``share.discard``), on its own home the
desktop or command-line user is an admin only where the administrator's policy says so
(``local_user_is_admin``) - otherwise staff, who may discard but not release. Releasing
overrides one stage's finding: a signature problem goes on to the type check and the
scan, a content finding (malware, a type, active PDF content) goes to the PMS. A share
without a verified patient needs the patient number and the birth date of the PMS
record to be released (two identifiers).
"""

from __future__ import annotations

import getpass
import shutil
from dataclasses import dataclass
from typing import TYPE_CHECKING

from practice_client.core.errors import InputError, StateError
from practice_client.core.patients import parse_birth_date
from practice_client.core.text import Text
from practice_client.shares import states
from practice_client.shares.download import shares_root
from practice_client.shares.states import ShareState

if TYPE_CHECKING:
    from practice_client.context import Context
    from practice_client.core.models import Share

ADMIN, STAFF = "admin", "staff"


@dataclass(frozen=True)
class Actor:
    """Who decides: an identifier (an account name - never a patient's data) and a role."""

    name: str
    role: str

    def to_audit(self) -> dict[str, str]:
        return {"actor": self.name, "role": self.role}


def local_actor(ctx: Context) -> Actor:
    """The user of this desktop or command line: admin only by the administrator's policy."""
    try:
        name = getpass.getuser()
    except (OSError, KeyError):
        name = "local"
    return Actor(f"local:{name}", ADMIN if ctx.config.local_user_is_admin else STAFF)


def _get(ctx: Context, share_id: str) -> Share:
    share = ctx.store.get_share(share_id)
    if share is None:
        raise StateError(Text(f"{share_id}: kein solches geteiltes Dokument", f"{share_id}: no such share"))
    return share


def _reason(reason: str) -> str:
    reason = " ".join(reason.split())
    if not reason:
        raise InputError("--reason", Text("ein Grund ist nötig", "a reason is required"))
    return reason[:500]


def release(ctx: Context, share_id: str, actor: Actor, reason: str, patient_number: str | None = None,
            birth_date: str | None = None) -> Share:
    """Release a quarantined share (admins only)."""
    if actor.role != ADMIN:
        raise StateError(Text(f"{share_id}: nur Administratoren geben aus der Quarantäne frei",
                              f"{share_id}: only an administrator releases from quarantine"))
    share = _get(ctx, share_id)
    if share.state != ShareState.QUARANTINED:
        raise StateError(Text(f"{share_id}: das Dokument ist nicht in Quarantäne ({share.state})",
                              f"{share_id}: the share is {share.state}, not quarantined"))
    try:
        event = states.release_input(share)
    except ValueError:
        raise StateError(Text(f"{share_id}: {states.reason_text(share.reason, 'de')} - nichts freizugeben, "
                              "bitte verwerfen",
                              f"{share_id}: {states.reason_text(share.reason, 'en')} - nothing to release, "
                              "discard it")) from None
    text = _reason(reason)
    # the reason is staff's words (sealed in the row); the audit says that one was given
    changes: dict[str, object] = {"reason": None, "detail": Text(f"freigegeben: {text}", f"released: {text}")}
    if share.sha256 is None:
        raise StateError(Text(f"{share_id}: das Dokument war nicht entschlüsselbar - nichts freizugeben",
                              f"{share_id}: the share could not be decrypted - nothing to release"))
    if share.patient_number is None or (patient_number and patient_number != share.patient_number):
        changes["patient_number"] = _confirmed_patient(ctx, share_id, patient_number, birth_date)
    audit = {**actor.to_audit(), "released": share.reason, "has_reason": True,
             "patient_number": changes.get("patient_number", share.patient_number)}
    return states.apply(ctx.store, share_id, event, audit=audit, **changes)


def _confirmed_patient(ctx: Context, share_id: str, number: str | None, birth_date: str | None) -> str:
    if not number or not birth_date:
        raise InputError(share_id, Text("ohne geprüfte Patientin/geprüften Patienten: Patientennummer und "
                                        "Geburtsdatum nötig (--patient-number, --birth-date)",
                                        "no verified patient: the patient number and birth date are needed "
                                        "(--patient-number, --birth-date)"))
    patient = ctx.store.get_patient(number)
    if patient is None:
        raise InputError(number, Text("keine PVS-Stammdaten zu dieser Nummer", "no PMS master data for this number"))
    if parse_birth_date(birth_date) != patient.birth_date:
        raise InputError(birth_date, Text("Geburtsdatum passt nicht zur PVS-Patientennummer",
                                          "the birth date does not match the PMS record"))
    return number


def discard(ctx: Context, share_id: str, actor: Actor, reason: str) -> Share:
    """Discard a quarantined or waiting share: its kept files go, the patient's app is told
    ('refused')."""
    text = _reason(reason)
    share = _get(ctx, share_id)
    if share.state not in (ShareState.QUARANTINED, ShareState.WAITING):
        raise StateError(Text(f"{share_id}: nur Dokumente in Quarantäne oder in Wartestellung werden verworfen "
                              f"({share.state})",
                              f"{share_id}: the share is {share.state}; only quarantined or waiting shares "
                              "are discarded"))
    done = states.apply(ctx.store, share_id, "discarded",
                        audit={**actor.to_audit(), "was": share.reason, "has_reason": True},
                        receipt="refused", detail=Text(f"verworfen: {text}", f"discarded: {text}"))
    shutil.rmtree(shares_root(ctx) / share_id, ignore_errors=True)
    return done
