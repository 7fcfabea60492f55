"""One request: who, what, the verification checklist, the consent, and the decision.

Who is the PMS record of the request's patient number and the trust certificate pinned
for the key that signed it (with how the platform identified the patient); what the
request claims about the patient is shown beside them only where it differs.

Accepting a request that did not verify needs an explicit override with a reason;
declining always needs a reason (for the patient, encrypted to the pinned key). Files for an accepted
request can be added with a file dialog or dropped onto this pane.
"""

from __future__ import annotations

import html
from pathlib import Path

from PySide6.QtCore import QEvent, Qt, QTimer, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import (
    QFileDialog,
    QFormLayout,
    QFrame,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from practice_client.core.models import RequestStatus
from practice_client.gui.controller import Controller
from practice_client.gui.dialogs.reason import ReasonDialog
from practice_client.gui.formatting import date_text, datetime_text, fill, fingerprint_groups, period_text
from practice_client.gui.i18n import current_language
from practice_client.gui.labels import (
    check_icon,
    check_status_label,
    check_title,
    ident_label,
    request_status_label,
    verdict_label,
)
from practice_client.gui.viewmodels import RequestView

ICON_SIZE = 20


def local_files(urls: list[QUrl]) -> list[Path]:
    """Only local regular files from a drop (no folders, no remote URLs)."""
    paths = [Path(u.toLocalFile()) for u in urls if u.isLocalFile()]
    return [p for p in paths if p.is_file()]


class RequestDetail(QScrollArea):
    """The detail pane. Accepts dropped files when the shown request is accepted."""

    def __init__(self, controller: Controller, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.controller = controller
        self.view: RequestView | None = None
        self.dialog: ReasonDialog | None = None
        self.setWidgetResizable(True)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)  # text wraps instead
        self.setMinimumWidth(360)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setAcceptDrops(True)
        self.viewport().setAcceptDrops(True)  # drops land on the viewport, which hands them to us
        body = QWidget()
        self.setWidget(body)
        layout = QVBoxLayout(body)
        self.title = QLabel(wordWrap=True)
        self.title.setObjectName("detailTitle")
        self.banner = QFrame()
        self.banner.setObjectName("verdictBanner")
        banner_layout = QHBoxLayout(self.banner)
        self.verdict_icon = QLabel()
        self.verdict = QLabel(wordWrap=True)
        banner_layout.addWidget(self.verdict_icon, 0)
        banner_layout.addWidget(self.verdict, 1)
        layout.addWidget(self.title)
        layout.addWidget(self.banner)
        facts = QFormLayout()
        facts.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.facts = facts
        self.number = QLabel()
        self.birth = QLabel()
        self.certificate = QLabel(wordWrap=True)
        self.certificate.setAccessibleName(self.tr("Pinned trust certificate"))
        self.claim = QLabel(wordWrap=True)
        self.claim.setObjectName("claimDiffers")
        self.claim.setAccessibleName(self.tr("What the request states about the patient"))
        self.documents = QLabel(wordWrap=True)
        self.period = QLabel()
        self.received = QLabel()
        self.status = QLabel(wordWrap=True)
        facts.addRow(self.tr("Patient no.:"), self.number)
        facts.addRow(self.tr("Born:"), self.birth)
        facts.addRow(self.tr("Trust certificate:"), self.certificate)
        facts.addRow(self.tr("⚠ The request states:"), self.claim)
        facts.addRow(self.tr("Documents:"), self.documents)
        facts.addRow(self.tr("Period:"), self.period)
        facts.addRow(self.tr("Received:"), self.received)
        facts.addRow(self.tr("Status:"), self.status)
        layout.addLayout(facts)
        self.checks_box = QGroupBox(self.tr("Verification"))
        self.checks = QGridLayout(self.checks_box)
        self.checks.setColumnStretch(1, 1)
        layout.addWidget(self.checks_box)
        self.consent_box = QGroupBox(self.tr("Consent signed by the patient"))
        consent_layout = QVBoxLayout(self.consent_box)
        self.consent = QLabel(wordWrap=True)
        self.consent.setAccessibleName(self.tr("Consent text"))
        consent_layout.addWidget(self.consent)
        layout.addWidget(self.consent_box)
        decide = QHBoxLayout()  # the decision on one row, adding files below: fits a narrow pane
        self.accept_button = QPushButton(self.tr("&Accept"))
        self.decline_button = QPushButton(self.tr("&Decline…"))
        self.files_button = QPushButton(self.tr("Add &files…"))
        for button, name in (
            (self.accept_button, self.tr("Accept request")),
            (self.decline_button, self.tr("Decline request")),
            (self.files_button, self.tr("Add files for this request")),
        ):
            button.setAccessibleName(name)
        decide.addWidget(self.accept_button)
        decide.addWidget(self.decline_button)
        decide.addStretch(1)
        files = QHBoxLayout()
        files.addWidget(self.files_button)
        files.addStretch(1)
        layout.addLayout(decide)
        layout.addLayout(files)
        self.drop_hint = QLabel(self.tr("You can also drop files here."), wordWrap=True)
        self.drop_hint.setObjectName("hint")
        layout.addWidget(self.drop_hint)
        layout.addStretch(1)
        self.accept_button.clicked.connect(self.accept_clicked)
        self.decline_button.clicked.connect(self.decline_clicked)
        self.files_button.clicked.connect(self.choose_files)
        for label in (self.title, self.documents, self.status, self.consent, self.claim, self.certificate):
            label.setTextFormat(Qt.TextFormat.PlainText)  # patient-supplied text is never markup
        self.show_request(None)

    # -- showing ------------------------------------------------------------------

    def show_request(self, view: RequestView | None) -> None:
        self.view = view
        self.widget().setVisible(view is not None)
        if view is None:
            return
        record = view.record
        self.title.setText(view.patient_name if view.patient else self.tr("(patient not in the PMS data)"))
        icon, text = verdict_label(record.verdict)
        explanation = {
            "verified": self.tr("All checks passed."),
            "needs_review": self.tr("Some checks need your attention before you decide."),
            "rejected": self.tr("This request failed verification and cannot be accepted."),
        }[str(record.verdict)]
        self.verdict_icon.setPixmap(icon.pixmap(ICON_SIZE, ICON_SIZE))
        self.verdict.setText(f"<b>{text}</b> – {explanation}")
        self.banner.setProperty("verdict", str(record.verdict))
        self.banner.style().polish(self.banner)
        self._show_identity(view)
        self.documents.setText(", ".join(view.documents))
        self.period.setText(period_text(*view.period))
        self.received.setText(datetime_text(record.received_at))
        status = request_status_label(record.status)
        if record.status in (RequestStatus.ACCEPTED, RequestStatus.DECLINED) and record.decided_at:
            status = fill(self.tr("%1 on %2"), status, datetime_text(record.decided_at))
        if record.override:
            status += " " + self.tr("(despite failed checks)")
        if record.decision_reason:
            status += "\n" + fill(self.tr("Reason: %1"), record.decision_reason)
        self.status.setText(status)
        self._show_checks(view)
        self.consent.setText(view.consent_text or self.tr("(no consent text)"))
        self.accept_button.setEnabled(view.can_decide)
        self.decline_button.setEnabled(view.can_decide)
        self.accept_button.setText(self.tr("&Accept anyway…") if view.needs_override else self.tr("&Accept"))
        self.files_button.setEnabled(view.accepts_files)
        self.drop_hint.setVisible(view.accepts_files)
        QTimer.singleShot(0, self, self._fit_height)  # once the new labels are shown and polished

    def _show_identity(self, view: RequestView) -> None:
        """The PMS record and the pinned certificate; the request's claim only beside them,
        where it differs (or where the PMS has no such patient)."""
        self.number.setText(view.patient_number or "–")
        self.birth.setText(date_text(view.birth_date) if view.patient else "–")
        pin = view.pin
        if pin is None:
            self.certificate.setText(self.tr("No trust certificate is pinned for the key that signed this request."))
        else:
            groups = fingerprint_groups(pin.fingerprint)
            self.certificate.setText(fill(self.tr("%1, born %2 – identity checked by: %3\nKey … %4"),
                                          pin.name, date_text(pin.birth_date), ident_label(pin.ident),
                                          " ".join(groups[-4:])))
        differs = view.patient is None or view.name_differs or view.birth_differs
        self.claim.setText(fill(self.tr("%1, born %2"), view.claimed_name, date_text(view.claimed_birth_date)))
        self.facts.setRowVisible(self.claim, differs)

    def _show_checks(self, view: RequestView) -> None:
        while self.checks.count():
            item = self.checks.takeAt(0)
            if item.widget() is not None:
                item.widget().deleteLater()
        language = current_language()
        for row, check in enumerate(view.record.checks):
            icon = QLabel()
            icon.setPixmap(check_icon(check.status).pixmap(ICON_SIZE, ICON_SIZE))
            icon.setAccessibleName(check_status_label(check.status))
            icon.setToolTip(check_status_label(check.status))
            text = QLabel(
                f"<b>{check_title(check.name)}</b> ({check_status_label(check.status)})<br>"
                f"{html.escape(check.detail.pick(language))}",
                wordWrap=True,
            )
            self.checks.addWidget(icon, row, 0)
            self.checks.addWidget(text, row, 1)

    def _fit_height(self) -> None:
        """QScrollArea sizes its widget by minimumSizeHint, which ignores wrapped text: give
        the body the height its wrapped labels need at the current width (else they squash)."""
        body = self.widget()
        body.setMinimumHeight(0)
        needed = body.heightForWidth(self.viewport().width())
        if needed > 0:
            body.setMinimumHeight(needed)

    def viewportEvent(self, event: QEvent) -> bool:  # noqa: N802 - Qt's name
        """The viewport's width also changes when the scroll bar appears: refit then too."""
        handled = super().viewportEvent(event)
        if event.type() == QEvent.Type.Resize:
            self._fit_height()
        return handled

    # -- actions --------------------------------------------------------------------

    def accept_clicked(self) -> None:
        view = self.view
        if view is None or not view.can_decide:
            return
        if not view.needs_override:
            self.controller.accept(view.request_id, override=False, reason="")
            return
        self.dialog = ReasonDialog(
            self.tr("Accept despite failed checks"),
            self.tr(
                "This request did not pass every check. Accept it only if you have confirmed "
                "with the patient in person or by phone that the request is genuine."
            ),
            self.tr("Accept anyway"),
            self.tr("I have checked this request myself"),
            self,
        )
        dialog = self.dialog
        dialog.accepted.connect(
            lambda: self.controller.accept(view.request_id, override=True, reason=dialog.reason_text())
        )
        dialog.open()

    def decline_clicked(self) -> None:
        view = self.view
        if view is None or not view.can_decide:
            return
        self.dialog = ReasonDialog(
            self.tr("Decline request"),
            self.tr("The patient is told that the request was declined. Your reason goes to the patient "
                    "encrypted: the platform cannot read it. If no key is pinned for this patient, the "
                    "reason stays in the practice."),
            self.tr("Decline"),
            parent=self,
        )
        dialog = self.dialog
        dialog.accepted.connect(lambda: self.controller.decline(view.request_id, dialog.reason_text()))
        dialog.open()

    def choose_files(self) -> None:
        if self.view is None or not self.view.accepts_files:
            return
        names, _ = QFileDialog.getOpenFileNames(self, fill(self.tr("Add files for %1"), self.view.patient_name))
        self.add_files([Path(n) for n in names])

    def add_files(self, paths: list[Path]) -> None:
        if self.view is not None and self.view.accepts_files and paths:
            self.controller.add_files(self.view.request_id, paths)

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802 - Qt's name
        if self.view is not None and self.view.accepts_files and event.mimeData().hasUrls():
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802 - Qt's name
        paths = local_files(event.mimeData().urls())
        if paths and self.view is not None and self.view.accepts_files:
            event.acceptProposedAction()
            self.add_files(paths)
        else:
            event.ignore()
