"""The state machine of a share: its states, inputs and outputs side by side.

Read this one file to know the machine (as magic-wormhole's ``_send.py`` shows its own).
Every transition is one row of :data:`MACHINE`: from which states, on which input, to
which state, and what it does (the output). :func:`apply` is the only way a share moves:
one store transaction, checked against the row inside the write transaction, with one
audit entry. Anything not in the table is a bug.

::

    received --downloaded--> downloaded --verified--> verified --clean--> clean
        |                        |                      |                   |
        | too_large / gone       | refused_signature    | no_scanner        | handover_started
        v                        v                      v                   v
    quarantined <-----------refused_content------- waiting (scanned      handing_over
        |                                          again each pass)         | handed_over
        | released_signature -> verified                                    v
        | released_content -> clean                                      handed_over
        | discarded -> discarded   (waiting shares can be discarded too)

A share is never handed to the PMS unless it went through ``clean``: signed by the
pinned key of the patient its manifest names, of an allowed type, without active PDF
content, and scanned clean - or an admin released it from quarantine, with a reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from practice_client.core.models import Share
    from practice_client.core.store import Store


class ShareState(StrEnum):
    RECEIVED = "received"  # the platform lists it; its row exists, the download is to come (or resumes)
    DOWNLOADED = "downloaded"  # both ciphertexts kept in the shares folder (encrypted to the practice)
    VERIFIED = "verified"  # signed by the pinned key of the patient the manifest names
    WAITING = "waiting"  # verified, waiting for a virus scanner (none configured or reachable)
    CLEAN = "clean"  # allowed type, no active content, scanned clean: ready for the PMS
    HANDING_OVER = "handing_over"  # its files are being placed in the PMS import folder
    HANDED_OVER = "handed_over"  # in the PMS import folder with its GDT record (final)
    QUARANTINED = "quarantined"  # for staff: never handed on without an admin's release
    DISCARDED = "discarded"  # staff discarded it (final)


S = ShareState
FINAL = frozenset({S.HANDED_OVER, S.DISCARDED})


@dataclass(frozen=True)
class Rule:
    sources: frozenset[ShareState]
    input: str
    target: ShareState
    output: str  # what happens with the transition (docs and readers)


MACHINE: tuple[Rule, ...] = (
    Rule(frozenset({S.RECEIVED}), "downloaded", S.DOWNLOADED,
         "document and manifest complete on disk (downloads resume with HTTP Range)"),
    Rule(frozenset({S.RECEIVED}), "too_large", S.QUARANTINED, "nothing downloaded; staff discard it"),
    Rule(frozenset({S.RECEIVED}), "gone", S.QUARANTINED, "the platform no longer has it"),
    Rule(frozenset({S.DOWNLOADED}), "verified", S.VERIFIED,
         "decrypted with the practice key, signature by the pinned key the manifest names; "
         "patient number, fingerprint, manifest and plaintext digest recorded"),
    Rule(frozenset({S.DOWNLOADED}), "refused_signature", S.QUARANTINED,
         "not for this practice, unsigned, another or an unpinned key, a manifest that does not fit"),
    Rule(frozenset({S.VERIFIED, S.WAITING}), "scanned_clean", S.CLEAN, "type allowed, no active content, no malware"),
    Rule(frozenset({S.VERIFIED, S.WAITING}), "refused_content", S.QUARANTINED,
         "malware (signature name, alert), a type not allowed, active PDF content"),
    Rule(frozenset({S.VERIFIED, S.WAITING}), "no_scanner", S.WAITING,
         "no scanner configured or reachable: the share waits, visibly, and is tried again"),
    Rule(frozenset({S.CLEAN}), "handover_started", S.HANDING_OVER,
         "the target names in the import folder recorded before a byte is written there"),
    Rule(frozenset({S.HANDING_OVER}), "handed_over", S.HANDED_OVER,
         "file and GDT record renamed into place (never overwriting); receipt 'accepted' queued"),
    Rule(frozenset({S.QUARANTINED}), "released_signature", S.VERIFIED,
         "an admin accepts the signature problem (reason audited); type check and scan still run"),
    Rule(frozenset({S.QUARANTINED}), "released_content", S.CLEAN,
         "an admin accepts the content finding (reason audited); handed over next"),
    Rule(frozenset({S.QUARANTINED, S.WAITING}), "discarded", S.DISCARDED,
         "kept files removed; receipt 'refused' queued"),
)
_BY_INPUT = {rule.input: rule for rule in MACHINE}


@dataclass(frozen=True)
class Reason:
    """Why a share waits or is quarantined: the stage it failed and the words staff read."""

    stage: str  # download | signature | content | scanner | handover
    de: str
    en: str


REASONS: dict[str, Reason] = {
    "too_large": Reason("download", "größer als die erlaubte Größe", "larger than the size limit"),
    "gone": Reason("download", "auf der Plattform nicht mehr vorhanden", "no longer on the platform"),
    "not_for_us": Reason("signature", "nicht für den Praxisschlüssel verschlüsselt oder beschädigt",
                         "not encrypted to the practice key, or damaged"),
    "manifest_invalid": Reason("signature", "Begleitdaten (Manifest) ungültig", "the manifest is not valid"),
    "unsigned": Reason("signature", "nicht signiert", "not signed"),
    "unpinned_signer": Reason("signature", "der genannte Schlüssel ist für keine Patientin/keinen Patienten gepinnt",
                              "the key it names is not pinned for any patient"),
    "wrong_signer": Reason("signature", "nicht mit dem gepinnten Schlüssel der genannten Patientin/des genannten "
                                        "Patienten signiert", "not signed by the pinned key of the patient it names"),
    "bad_signature": Reason("signature", "Signatur ungültig (verändert?)", "the signature is not valid (altered?)"),
    "manifest_mismatch": Reason("signature", "Dokument passt nicht zu seinen Begleitdaten",
                                "the document does not match its manifest"),
    "infected": Reason("content", "Schadsoftware gefunden", "malware found"),
    "type_not_allowed": Reason("content", "Dateityp nicht erlaubt", "file type not allowed"),
    "pdf_active_content": Reason("content", "PDF mit aktivem Inhalt (JavaScript, Startaktionen, eingebettete "
                                            "Dateien)", "PDF with active content (JavaScript, launch actions, "
                                                        "embedded files)"),
    "pdf_unreadable": Reason("content", "PDF nicht prüfbar (beschädigt oder verschlüsselt)",
                             "PDF cannot be checked (damaged or encrypted)"),
    "scan_limit": Reason("content", "zu groß für den Virenscanner", "too large for the virus scanner"),
    "no_scanner": Reason("scanner", "kein Virenscanner eingerichtet", "no virus scanner configured"),
    "scanner_unreachable": Reason("scanner", "Virenscanner nicht erreichbar", "virus scanner not reachable"),
    "no_import_folder": Reason("handover", "kein PVS-Importordner eingerichtet", "no PMS import folder configured"),
    "import_folder_unavailable": Reason("handover", "PVS-Importordner nicht erreichbar",
                                        "PMS import folder not reachable"),
    "name_taken": Reason("handover", "Dateiname im PVS-Importordner schon vergeben",
                         "the file name is taken in the PMS import folder"),
    "bad_name_pattern": Reason("handover", "Namensmuster für den PVS-Import ungültig",
                               "the name pattern for the PMS import is not valid"),
    "no_patient_record": Reason("handover", "keine PVS-Stammdaten zur Patientennummer",
                                "no PMS master data for the patient number"),
}


def reason_text(code: str | None, language: str = "de") -> str:
    reason = REASONS.get(code or "")
    if reason is None:
        return code or ""
    return reason.de if language == "de" else reason.en


def release_input(share: Share) -> str:
    """Which release fits a quarantined share: a signature problem is released to
    ``verified`` (the content is still checked and scanned), a content finding to
    ``clean``. Download problems cannot be released (there is nothing to hand over)."""
    stage = REASONS[share.reason].stage if share.reason in REASONS else ""
    if stage == "signature":
        return "released_signature"
    if stage == "content":
        return "released_content"
    raise ValueError(stage or "unknown")


def apply(store: Store, share_id: str, event: str, *, audit: dict[str, Any] | None = None,
          **changes: Any) -> Share:
    """Take the transition of ``event`` (a row of :data:`MACHINE`): one transaction and one
    audit entry, the share's current state checked against the row inside it."""
    rule = _BY_INPUT[event]
    return store.share_transition(share_id, str(rule.target), {str(s) for s in rule.sources},
                                  audit={"input": event, **(audit or {})}, **changes)
