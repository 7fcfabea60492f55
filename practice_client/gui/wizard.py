"""The first-run wizard: platform, token, identity key, export folder, practice key,
key backup and a connection test. The work is :func:`practice_client.provision.provision`
(the same as ``practice-client setup``), run in a worker by the controller.

Settings the admin policy locks are shown with their value, disabled, and marked
"vom Administrator festgelegt".
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QCoreApplication
from PySide6.QtWidgets import (
    QCheckBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
    QWizard,
    QWizardPage,
)

from practice_client.gui.controller import Controller
from practice_client.gui.dialogs.backup import BackupDialog
from practice_client.gui.formatting import fill, fingerprint_groups
from practice_client.gui.pages.settings import locked_note
from practice_client.gui.resources import app_icon
from practice_client.provision import SetupParams, SetupResult


def _file_row(edit: QLineEdit, caption: str, parent: QWidget, folder: bool = False) -> QWidget:
    box = QWidget()
    row = QHBoxLayout(box)
    row.setContentsMargins(0, 0, 0, 0)
    row.addWidget(edit, 1)
    button = QPushButton(QCoreApplication.translate("SetupWizard", "Browse…"))
    button.setAccessibleName(caption)

    def browse() -> None:
        if folder:
            chosen = QFileDialog.getExistingDirectory(parent, caption, edit.text())
        else:
            chosen, _ = QFileDialog.getOpenFileName(parent, caption, edit.text())
        if chosen:
            edit.setText(chosen)

    button.clicked.connect(browse)
    row.addWidget(button)
    return box


class PlatformPage(QWizardPage):
    def __init__(self, controller: Controller) -> None:
        super().__init__()
        cfg = controller.config
        self.setTitle(self.tr("Platform"))
        self.setSubTitle(self.tr("These details come from your platform contract (letter or admin portal)."))
        form = QFormLayout(self)
        self.server = QLineEdit(cfg.server_url or "https://")
        self.practice_id = QLineEdit(cfg.practice_id)
        self.domain = QLineEdit(cfg.platform_domain)
        self.token = QLineEdit(echoMode=QLineEdit.EchoMode.Password)
        self.ident_key = QLineEdit()
        self.ca_file = QLineEdit()
        for edit, name in (
            (self.server, self.tr("Server address")), (self.practice_id, self.tr("Practice ID")),
            (self.domain, self.tr("Platform domain")), (self.token, self.tr("Access token")),
            (self.ident_key, self.tr("Platform identity key file")), (self.ca_file, self.tr("Extra CA file")),
        ):
            edit.setAccessibleName(name)
        form.addRow(self.tr("&Server:"), locked_note(self.server, cfg.is_locked("server_url")))
        form.addRow(self.tr("&Practice ID:"), locked_note(self.practice_id, cfg.is_locked("practice_id")))
        form.addRow(self.tr("Platform &domain:"), locked_note(self.domain, cfg.is_locked("platform_domain")))
        form.addRow(self.tr("Access &token:"), self.token)
        form.addRow(self.tr("&Identity key:"), _file_row(self.ident_key, self.tr("Platform identity key"), self))
        form.addRow(self.tr("Extra &CA (optional):"), _file_row(self.ca_file, self.tr("CA certificate"), self))
        for edit in (self.server, self.practice_id, self.domain, self.ident_key):
            edit.textChanged.connect(self.completeChanged)

    def isComplete(self) -> bool:  # noqa: N802 - Qt's name
        return all(e.text().strip() for e in (self.server, self.practice_id, self.domain, self.ident_key))


class FolderPage(QWizardPage):
    def __init__(self, controller: Controller) -> None:
        super().__init__()
        cfg = controller.config
        self.setTitle(self.tr("Practice software"))
        self.setSubTitle(self.tr("Your practice software exports documents into this folder; the client "
                                 "picks them up from there."))
        form = QFormLayout(self)
        self.export_dir = QLineEdit(cfg.export_dir)
        self.export_dir.setAccessibleName(self.tr("Export folder"))
        self.practice_name = QLineEdit("Arztpraxis")
        self.practice_name.setAccessibleName(self.tr("Practice name"))
        self.offline = QCheckBox(self.tr("Set up without connecting (register the key later)"))
        folder = _file_row(self.export_dir, self.tr("Export folder"), self, folder=True)
        form.addRow(self.tr("&Export folder:"), locked_note(folder, cfg.is_locked("export_dir")))
        form.addRow(self.tr("Practice &name:"), self.practice_name)
        form.addRow("", self.offline)


class FinishPage(QWizardPage):
    """Runs the setup when shown; Finish is enabled once it succeeded."""

    def __init__(self, controller: Controller, wizard: SetupWizard) -> None:
        super().__init__()
        self.controller = controller
        self.setup_wizard = wizard
        self.result: SetupResult | None = None
        self.dialog: BackupDialog | None = None
        self.setTitle(self.tr("Practice key"))
        layout = QVBoxLayout(self)
        self.status = QLabel(wordWrap=True)
        self.status.setAccessibleName(self.tr("Setup status"))
        self.fingerprint = QLabel(wordWrap=True)
        self.backup_hint = QLabel(self.tr(
            "<b>Important:</b> make a backup of the practice key now and keep it in a safe place. "
            "Without it, a new PC cannot sign documents as your practice."), wordWrap=True)
        self.backup_button = QPushButton(self.tr("&Back up key now…"))
        self.test_button = QPushButton(self.tr("&Test connection"))
        self.test_result = QLabel(wordWrap=True)
        self.test_result.setAccessibleName(self.tr("Connection test result"))
        for widget in (self.status, self.fingerprint, self.backup_hint, self.backup_button,
                       self.test_button, self.test_result):
            layout.addWidget(widget)
        layout.addStretch(1)
        self.backup_button.clicked.connect(self._backup)
        self.test_button.clicked.connect(self._test)
        controller.setupFinished.connect(self._finished)
        controller.failed.connect(self._failed)
        controller.connectionTested.connect(self._tested)
        self._show_done(False)

    def initializePage(self) -> None:  # noqa: N802 - Qt's name
        self.result = None
        self._show_done(False)
        self.status.setText(self.tr("Setting up and creating the practice key… this can take a moment."))
        self.controller.run_setup(self.setup_wizard.params())

    def isComplete(self) -> bool:  # noqa: N802 - Qt's name
        return self.result is not None

    def _show_done(self, done: bool) -> None:
        for widget in (self.fingerprint, self.backup_hint, self.backup_button, self.test_button, self.test_result):
            widget.setVisible(done)

    def _finished(self, result: SetupResult) -> None:
        self.result = result
        created = self.tr("created") if result.key_created else self.tr("kept")
        self.status.setText(fill(self.tr("✔ Setup complete. Practice key %1."), created))
        self.fingerprint.setText(fill(self.tr("Fingerprint: %1"),
            " ".join(fingerprint_groups(result.practice_key_fingerprint))))
        self._show_done(True)
        self.completeChanged.emit()

    def _failed(self, action: str, message: str) -> None:
        if action == "setup":
            self.status.setText(fill(self.tr("✖ Setup failed: %1\nGo back, correct it, and try again."), message))

    def _backup(self) -> None:
        self.dialog = BackupDialog(self.controller, self)
        self.dialog.open()

    def _test(self) -> None:
        self.test_result.setText(self.tr("Connecting…"))
        self.controller.test_connection()

    def _tested(self, ok: bool, message: str) -> None:
        self.test_result.setText(
            fill(self.tr("✔ Connected to %1"), message) if ok else fill(self.tr("✖ No connection: %1"), message))


class SetupWizard(QWizard):
    def __init__(self, controller: Controller, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.controller = controller
        self.setWindowTitle(self.tr("Set up Practice Client"))
        self.setWindowIcon(app_icon())
        self.setWizardStyle(QWizard.WizardStyle.ModernStyle)
        self.setMinimumSize(680, 480)
        intro = QWizardPage()
        intro.setTitle(self.tr("Welcome"))
        intro_layout = QVBoxLayout(intro)
        intro_layout.addWidget(QLabel(self.tr(
            "This assistant connects the practice to the patient platform. You need the platform "
            "address, your practice ID, the access token and the platform's identity key file. "
            "At the end the practice key is created; please make a backup of it."), wordWrap=True))
        self.platform = PlatformPage(controller)
        self.folder = FolderPage(controller)
        self.finish = FinishPage(controller, self)
        for page in (intro, self.platform, self.folder, self.finish):
            self.addPage(page)

    def params(self) -> SetupParams:
        p, f = self.platform, self.folder
        export = f.export_dir.text().strip()
        ca = p.ca_file.text().strip()
        return SetupParams(
            server_url=p.server.text().strip(),
            practice_id=p.practice_id.text().strip(),
            platform_domain=p.domain.text().strip(),
            ident_key_file=Path(p.ident_key.text().strip()),
            ca_file=Path(ca) if ca else None,
            export_dir=Path(export) if export else None,
            token=p.token.text().strip() or None,
            offline=f.offline.isChecked(),
            practice_name=f.practice_name.text().strip() or "Arztpraxis",
        )
