"""Asking for a reason: declining a request, or accepting one that did not verify.

The OK button stays disabled until a reason is written (and, for an override,
until staff confirm they checked the request themselves).
"""

from __future__ import annotations

from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QLabel,
    QPlainTextEdit,
    QVBoxLayout,
    QWidget,
)


class ReasonDialog(QDialog):
    """A reason (required), optionally with a confirmation checkbox."""

    def __init__(
        self, title: str, explanation: str, ok_text: str, confirm_text: str = "", parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        self.setMinimumWidth(460)
        layout = QVBoxLayout(self)
        intro = QLabel(explanation, wordWrap=True)
        layout.addWidget(intro)
        label = QLabel(self.tr("&Reason:"))
        self.reason = QPlainTextEdit()
        self.reason.setAccessibleName(self.tr("Reason"))
        self.reason.setTabChangesFocus(True)
        self.reason.setFixedHeight(90)
        label.setBuddy(self.reason)
        layout.addWidget(label)
        layout.addWidget(self.reason)
        self.confirm: QCheckBox | None = None
        if confirm_text:
            self.confirm = QCheckBox(confirm_text)
            layout.addWidget(self.confirm)
            self.confirm.toggled.connect(self._update)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.ok = self.buttons.addButton(ok_text, QDialogButtonBox.ButtonRole.AcceptRole)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)
        self.reason.textChanged.connect(self._update)
        self._update()

    def reason_text(self) -> str:
        return self.reason.toPlainText().strip()

    def _update(self) -> None:
        confirmed = self.confirm is None or self.confirm.isChecked()
        self.ok.setEnabled(bool(self.reason_text()) and confirmed)
