"""Words and icons for the client's states: one place, so every page says the same.

Every state is shown as icon *and* text (never colour alone). The texts are
marked for Qt's translation system under the context ``Labels``.
"""

from __future__ import annotations

from PySide6.QtCore import QCoreApplication
from PySide6.QtGui import QIcon

from practice_client.core.models import CheckStatus, DocumentState, RequestStatus, Verdict
from practice_client.gui.resources import icon


def verdict_label(verdict: Verdict) -> tuple[QIcon, str]:
    if verdict is Verdict.VERIFIED:
        return icon("status-ok"), QCoreApplication.translate("Labels", "Verified")
    if verdict is Verdict.NEEDS_REVIEW:
        return icon("status-warn"), QCoreApplication.translate("Labels", "Needs review")
    return icon("status-fail"), QCoreApplication.translate("Labels", "Rejected")


def request_status_label(status: RequestStatus) -> str:
    return {
        RequestStatus.OPEN: QCoreApplication.translate("Labels", "Open"),
        RequestStatus.ACCEPTED: QCoreApplication.translate("Labels", "Accepted"),
        RequestStatus.DECLINED: QCoreApplication.translate("Labels", "Declined"),
        # failed verification (a check failed): kept for the record, never actionable
        RequestStatus.REJECTED: QCoreApplication.translate("Labels", "Failed verification"),
    }[status]


def check_icon(status: CheckStatus) -> QIcon:
    return {
        CheckStatus.PASS: icon("status-ok"),
        CheckStatus.WARN: icon("status-warn"),
        CheckStatus.FAIL: icon("status-fail"),
    }[status]


def check_status_label(status: CheckStatus) -> str:
    return {
        CheckStatus.PASS: QCoreApplication.translate("Labels", "OK"),
        CheckStatus.WARN: QCoreApplication.translate("Labels", "Check"),
        CheckStatus.FAIL: QCoreApplication.translate("Labels", "Failed"),
    }[status]


def check_title(name: str) -> str:
    titles = {
        "dkim": QCoreApplication.translate("Labels", "Sender (e-mail signature)"),
        "format": QCoreApplication.translate("Labels", "Format"),
        "consent_signature": QCoreApplication.translate("Labels", "Patient's signed consent"),
        "phone": QCoreApplication.translate("Labels", "Phone number"),
        "identity": QCoreApplication.translate("Labels", "Name and birth date"),
        "addressee": QCoreApplication.translate("Labels", "Addressed to this practice"),
        "freshness": QCoreApplication.translate("Labels", "Validity period"),
        "replay": QCoreApplication.translate("Labels", "Not seen before"),
    }
    return titles.get(name, name)


def document_state_label(state: DocumentState) -> tuple[QIcon, str]:
    return {
        DocumentState.DETECTED: (icon("status-pending"), QCoreApplication.translate("Labels", "Detected")),
        DocumentState.UNASSIGNED: (icon("status-question"), QCoreApplication.translate("Labels", "Unassigned")),
        DocumentState.MATCHED: (icon("status-pending"), QCoreApplication.translate("Labels", "Waiting")),
        DocumentState.HELD: (icon("status-warn"), QCoreApplication.translate("Labels", "Held: key changed")),
        DocumentState.ENCRYPTED: (icon("status-busy"), QCoreApplication.translate("Labels", "Encrypted")),
        DocumentState.UPLOADING: (icon("status-busy"), QCoreApplication.translate("Labels", "Uploading")),
        DocumentState.DELIVERED: (icon("status-ok"), QCoreApplication.translate("Labels", "Delivered")),
        DocumentState.FAILED: (icon("status-fail"), QCoreApplication.translate("Labels", "Failed")),
    }[state]


def phase_label(phase: str) -> str:
    return {
        "encrypting": QCoreApplication.translate("Labels", "Encrypting"),
        "uploading": QCoreApplication.translate("Labels", "Uploading"),
    }.get(phase, phase)


def ident_label(ident: str) -> str:
    """How the platform verified the patient's identity before attesting the key (the
    trust certificate's ``ident``); an unknown method is shown as the certificate names it."""
    methods = {
        "video": QCoreApplication.translate("Labels", "Video identification"),
        "eid": QCoreApplication.translate("Labels", "Online ID card (eID)"),
        "in_person": QCoreApplication.translate("Labels", "In person"),
        "bank": QCoreApplication.translate("Labels", "Bank identification"),
    }
    return methods.get(ident, ident or "–")
