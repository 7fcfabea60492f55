"""The key backup: the practice key, encrypted with a passphrase staff keep offline.

Losing the practice key means losing the practice's identity towards its
patients, so the wizard ends by asking for this backup and Settings offers it.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from practice_client.crypto.backup import MIN_PASSPHRASE, generate_recovery_code
from practice_client.gui.controller import Controller
from practice_client.gui.formatting import fill


class BackupDialog(QDialog):
    def __init__(self, controller: Controller, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.controller = controller
        self.setWindowTitle(self.tr("Back up the practice key"))
        self.setMinimumWidth(520)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel(self.tr(
            "Store the backup file on a USB stick in the practice safe and write the passphrase "
            "down separately. Without the key, documents can no longer be signed as your practice."),
            wordWrap=True))
        form = QFormLayout()
        self.path = QLineEdit(str(Path.home() / "praxis-schluessel-sicherung.asc"))
        self.path.setAccessibleName(self.tr("Backup file"))
        browse = QPushButton(self.tr("Browse…"))
        browse.clicked.connect(self._browse)
        row = QHBoxLayout()
        row.addWidget(self.path, 1)
        row.addWidget(browse)
        self.passphrase = QLineEdit(echoMode=QLineEdit.EchoMode.Password)
        self.passphrase.setAccessibleName(self.tr("Passphrase"))
        self.repeat = QLineEdit(echoMode=QLineEdit.EchoMode.Password)
        self.repeat.setAccessibleName(self.tr("Repeat passphrase"))
        generate = QPushButton(self.tr("&Generate a recovery code"))
        generate.clicked.connect(self._generate)
        form.addRow(self.tr("&File:"), row)
        form.addRow(self.tr("&Passphrase:"), self.passphrase)
        form.addRow(self.tr("&Repeat:"), self.repeat)
        form.addRow("", generate)
        self.code = QLabel()
        self.code.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        form.addRow("", self.code)
        layout.addLayout(form)
        self.problem = QLabel(wordWrap=True)
        layout.addWidget(self.problem)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.ok = self.buttons.addButton(self.tr("Write backup"), QDialogButtonBox.ButtonRole.AcceptRole)
        self.buttons.accepted.connect(self._write)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)
        for edit in (self.passphrase, self.repeat, self.path):
            edit.textChanged.connect(self._update)
        controller.backupWritten.connect(self._written)
        controller.failed.connect(self._failed)
        self._update()

    def _browse(self) -> None:
        name, _ = QFileDialog.getSaveFileName(self, self.tr("Backup file"), self.path.text())
        if name:
            self.path.setText(name)

    def _generate(self) -> None:
        """A strong code to write down (shown once, large enough to copy by hand)."""
        code = generate_recovery_code()
        self.passphrase.setText(code)
        self.repeat.setText(code)
        self.code.setText(fill(self.tr("Write this code down and keep it apart from the file: <b>%1</b>"), code))

    def _update(self) -> None:
        first, second = self.passphrase.text(), self.repeat.text()
        if len(first) < MIN_PASSPHRASE:
            problem = fill(self.tr("The passphrase needs at least %1 characters."), MIN_PASSPHRASE)
        elif first != second:
            problem = self.tr("The two passphrases differ.")
        else:
            problem = ""
        self.problem.setText(problem)
        self.ok.setEnabled(not problem and bool(self.path.text().strip()))

    def _write(self) -> None:
        self.ok.setEnabled(False)
        self.problem.setText(self.tr("Writing the backup…"))
        self.controller.write_key_backup(Path(self.path.text().strip()), self.passphrase.text())

    def _written(self, path: str) -> None:
        self.problem.setText(fill(self.tr("Backup written to %1."), path))
        self.accept()

    def _failed(self, action: str, message: str) -> None:
        if action == "key_backup":
            self.problem.setText(message)
            self.ok.setEnabled(True)
