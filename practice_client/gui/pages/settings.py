"""Einstellungen: the everyday settings; those the admin policy locks are shown disabled.

At a workstation the practice's settings are the practice service's (its values, its
machine's policy locks), headed as such and changeable only from an admin workstation;
the workstation's own (language, tray, its log) are headed as this workstation's."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QCoreApplication
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from practice_client.core.config import Config
from practice_client.diagnostics import DiagnosticsReport
from practice_client.gui.controller import Controller
from practice_client.gui.dialogs.backup import BackupDialog
from practice_client.gui.formatting import fill, fingerprint_groups
from practice_client.gui.viewmodels import PracticeSettings

TEXT_KEYS = ("server_url", "practice_id", "platform_domain", "export_dir", "filename_pattern")
# whole numbers: (key, largest value); 0 keeps for ever / means no limit
NUMBER_KEYS = (("max_document_mb", 100_000), ("max_request_days", 3650), ("keep_processed_days", 3650),
               ("keep_failed_days", 3650), ("keep_messages_days", 3650))


def with_note(widget: QWidget) -> tuple[QWidget, QLabel]:
    """The field in a row with its (hidden) "vom Administrator festgelegt" note."""
    box = QWidget()
    row = QHBoxLayout(box)
    row.setContentsMargins(0, 0, 0, 0)
    row.addWidget(widget, 1)
    note = QLabel(QCoreApplication.translate("SettingsPage", "🔒 set by the administrator"))
    note.setObjectName("lockedNote")
    note.hide()
    row.addWidget(note)
    return box, note


def locked_note(widget: QWidget, locked: bool) -> QWidget:
    """The field, with "vom Administrator festgelegt" beside it when the policy locks it."""
    if not locked:
        return widget
    widget.setEnabled(False)
    box, note = with_note(widget)
    note.show()
    return box


def align_labels(forms: list[QFormLayout]) -> None:
    """One label column width across several forms, so the fields line up."""
    labels = [
        form.itemAt(row, QFormLayout.ItemRole.LabelRole).widget()
        for form in forms for row in range(form.rowCount())
        if form.itemAt(row, QFormLayout.ItemRole.LabelRole) is not None
    ]
    width = max((label.sizeHint().width() for label in labels if label is not None), default=0)
    for label in labels:
        if label is not None:
            label.setMinimumWidth(width)


class SettingsPage(QWidget):
    def __init__(self, controller: Controller, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.controller = controller
        self.dialog: BackupDialog | None = None
        self._language_changed = False
        self.remote = controller.practice_settings_remote
        self._loaded = not self.remote  # a workstation: nothing of the practice changes before its answer
        self.rows: dict[str, tuple[QWidget, QLabel]] = {}  # key -> (its field, its lock note)
        self._editable: set[str] = set()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.platform_box = QGroupBox(self.tr("Platform"))
        self.delivery_box = QGroupBox(self.tr("Delivery"))
        self.app_box = QGroupBox(self.tr("Program"))
        self.key_box = QGroupBox(self.tr("Practice key"))
        self.retention_box = QGroupBox(self.tr("Retention"))
        self.practice_heading = QLabel(self.tr("Practice settings (practice service)"))
        self.own_heading = QLabel(self.tr("Settings of this workstation"))
        self.read_only_note = QLabel(self.tr(
            "Only an admin workstation can change the practice's settings: they are shown here read-only."))
        self.read_only_note.setWordWrap(True)
        boxes: tuple[QWidget, ...] = (self.platform_box, self.delivery_box, self.retention_box, self.app_box,
                                      self.key_box)
        if self.remote:
            boxes = (self.practice_heading, self.read_only_note, self.platform_box, self.delivery_box,
                     self.retention_box, self.key_box, self.own_heading, self.app_box)
            for heading in (self.practice_heading, self.own_heading):
                heading.setObjectName("settingsScope")
                heading.setStyleSheet("font-weight: bold")
            self.read_only_note.setVisible(not controller.may_change_practice_settings)
        for box in boxes:
            layout.addWidget(box)
            box.setMaximumWidth(900)
        layout.addStretch(1)
        self.fields: dict[str, QLineEdit] = {}
        self.numbers: dict[str, QSpinBox] = {}
        self.debug_logging = QCheckBox(self.tr("Detailed log for support"))
        self.debug_logging.setToolTip(self.tr("Identifiers only, never patient data"))
        self.diagnostics_button = QPushButton(self.tr("&Export diagnostics…"))
        self.diagnostics_button.setAccessibleName(
            self.tr("Export a diagnostics file for your IT provider (no patient data, no secrets)"))
        self.language = QComboBox()
        self.language.addItem("Deutsch", "de")
        self.language.addItem("English", "en")
        self.language.setAccessibleName(self.tr("Language"))
        self.after = QComboBox()
        self.after.addItem(self.tr("Move to the “processed” folder"), "move")
        self.after.addItem(self.tr("Delete"), "remove")
        self.after.setAccessibleName(self.tr("After delivery"))
        self.close_to_tray = QCheckBox(self.tr("Keep running in the notification area when the window is closed"))
        self.fingerprint = QLabel()
        self.fingerprint.setWordWrap(True)
        self.fingerprint.setAccessibleName(self.tr("Fingerprint of the practice key"))
        self.save_button = QPushButton(self.tr("&Save"))
        self.test_button = QPushButton(self.tr("&Test connection"))
        self.backup_button = QPushButton(self.tr("&Back up key…"))
        self.result = QLabel(wordWrap=True)
        self.result.setAccessibleName(self.tr("Result"))
        buttons = QHBoxLayout()
        for button in (self.save_button, self.test_button):
            buttons.addWidget(button)
        buttons.addWidget(self.result, 1)
        layout.insertLayout(layout.count() - 1, buttons)
        self.test_button.setVisible(not self.remote)  # the platform connection is the practice server's
        self.save_button.clicked.connect(self.save)
        self.test_button.clicked.connect(self._test)
        self.backup_button.clicked.connect(self.backup)
        self.diagnostics_button.clicked.connect(self.export_diagnostics)
        controller.diagnosticsExported.connect(self._exported)
        controller.settingsSaved.connect(self.show_config)
        controller.settingsSaved.connect(self._saved)
        controller.settingsLoaded.connect(self._loaded_config)
        controller.connectionTested.connect(self._tested)
        controller.failed.connect(self._failed)
        self._build(controller.config)

    def _build(self, cfg: Config) -> None:
        captions = {
            "server_url": self.tr("Server:"),
            "practice_id": self.tr("Practice ID:"),
            "platform_domain": self.tr("Platform domain:"),
            "export_dir": self.tr("Export folder:"),
            "filename_pattern": self.tr("File name pattern:"),
        }
        platform = QFormLayout(self.platform_box)
        delivery = QFormLayout(self.delivery_box)
        for key in TEXT_KEYS:
            edit = QLineEdit()
            edit.setAccessibleName(captions[key].rstrip(":"))
            self.fields[key] = edit
            widget: QWidget = edit
            if key == "export_dir":
                widget = self._with_browse(edit)
            form = platform if key in ("server_url", "practice_id", "platform_domain") else delivery
            form.addRow(captions[key], self._row(key, widget))
        delivery.addRow(self.tr("After delivery:"), self._row("after_delivery", self.after))
        captions.update({
            "max_document_mb": self.tr("Largest document:"),
            "max_request_days": self.tr("Requests valid at most:"),
            "keep_processed_days": self.tr("Delivered originals:"),
            "keep_failed_days": self.tr("Originals not delivered:"),
            "keep_messages_days": self.tr("E-mails of finished requests:"),
        })
        retention = QFormLayout(self.retention_box)
        for key, largest in NUMBER_KEYS:
            box = QSpinBox()
            box.setRange(0, largest)
            box.setAccessibleName(captions[key].rstrip(":"))
            if key == "max_document_mb":
                box.setSuffix(" MB")
                box.setSpecialValueText(self.tr("no limit"))
            else:
                box.setSuffix(self.tr(" days"))
                box.setSpecialValueText(self.tr("no limit") if key == "max_request_days" else self.tr("keep"))
            self.numbers[key] = box
            form = delivery if key in ("max_document_mb", "max_request_days") else retention
            form.addRow(captions[key], self._row(key, box))
        program = QFormLayout(self.app_box)
        program.addRow(self.tr("Language:"), self._row("language", self.language))
        program.addRow("", self._row("close_to_tray", self.close_to_tray))
        program.addRow("", self._row("debug_logging", self.debug_logging))
        program.addRow("", self._left(self.diagnostics_button))
        practice_key = QFormLayout(self.key_box)
        practice_key.addRow(self.tr("Fingerprint:"), self.fingerprint)
        practice_key.addRow("", self._left(self.backup_button))
        align_labels([platform, delivery, retention, program, practice_key])
        self.show_config(cfg)

    def _row(self, key: str, widget: QWidget) -> QWidget:
        box, note = with_note(widget)
        self.rows[key] = (widget, note)
        return box

    @staticmethod
    def _left(widget: QWidget) -> QWidget:
        box = QWidget()
        row = QHBoxLayout(box)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(widget)
        row.addStretch(1)
        return box

    def _with_browse(self, edit: QLineEdit) -> QWidget:
        box = QWidget()
        row = QHBoxLayout(box)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(edit, 1)
        browse = QPushButton(self.tr("Browse…"))
        browse.setAccessibleName(self.tr("Choose the export folder"))
        browse.clicked.connect(lambda: edit.setText(
            QFileDialog.getExistingDirectory(self, self.tr("Export folder"), edit.text()) or edit.text()))
        row.addWidget(browse)
        return box

    def show_config(self, cfg: Config) -> None:
        for key, edit in self.fields.items():
            edit.setText(str(getattr(cfg, key)))
        self.language.setCurrentIndex(max(0, self.language.findData(cfg.language)))
        self.after.setCurrentIndex(max(0, self.after.findData(cfg.after_delivery)))
        self.close_to_tray.setChecked(cfg.close_to_tray)
        self.debug_logging.setChecked(cfg.debug_logging)
        for key, box in self.numbers.items():
            box.setValue(int(getattr(cfg, key)))
        groups = fingerprint_groups(cfg.practice_key_fingerprint)
        self.fingerprint.setText(" ".join(groups) if groups else self.tr("(not set up yet)"))
        practice = self._loaded and self.controller.may_change_practice_settings
        self.backup_button.setEnabled(bool(groups) and practice)
        self._editable = {key for key in self.rows
                          if not cfg.is_locked(key) and (practice or key not in PracticeSettings.names())}
        for key, (widget, note) in self.rows.items():
            widget.setEnabled(key in self._editable)
            note.setVisible(cfg.is_locked(key))

    def _loaded_config(self, cfg: Config) -> None:
        self._loaded = True
        self.show_config(cfg)

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 - Qt's name
        """Each time the page is shown: the settings as they are in force now (at a
        workstation the service's, which another admin workstation may have changed)."""
        super().showEvent(event)
        self.controller.load_settings()

    def changes(self) -> dict[str, object]:
        """What the user changed, leaving out what they may not change here (the policy's
        locks; the practice's settings at a workstation that is not an admin's)."""
        cfg = self.controller.config
        wanted: dict[str, object] = {k: e.text().strip() for k, e in self.fields.items()}
        wanted["language"] = self.language.currentData()
        wanted["after_delivery"] = self.after.currentData()
        wanted["close_to_tray"] = self.close_to_tray.isChecked()
        wanted["debug_logging"] = self.debug_logging.isChecked()
        wanted.update({key: box.value() for key, box in self.numbers.items()})
        return {k: v for k, v in wanted.items() if k in self._editable and getattr(cfg, k) != v}

    def save(self) -> None:
        changes = self.changes()
        self._language_changed = "language" in changes
        if changes:
            self.controller.save_settings(changes)
        else:
            self.result.setText(self.tr("Nothing changed."))

    def _saved(self, _cfg: Config) -> None:
        self.result.setText(self.tr("Settings saved. The language changes at the next start.")
                            if self._language_changed else self.tr("Settings saved."))

    def _failed(self, action: str, message: str) -> None:
        if action in ("save_settings", "settings"):  # the service's one line (a locked key, a bad value)
            self.result.setText(message)

    def _test(self) -> None:
        self.result.setText(self.tr("Connecting…"))
        self.controller.test_connection()

    def _tested(self, ok: bool, message: str) -> None:
        self.result.setText(
            fill(self.tr("✔ Connected to %1"), message) if ok else fill(self.tr("✖ No connection: %1"), message)
        )

    def backup(self) -> None:
        self.dialog = BackupDialog(self.controller, self)
        self.dialog.open()

    def export_diagnostics(self) -> None:
        path, _filter = QFileDialog.getSaveFileName(
            self, self.tr("Export diagnostics"), "practice-client-diagnostics.zip", self.tr("Zip files (*.zip)"))
        if path:
            self.result.setText(self.tr("Writing the diagnostics file…"))
            self.controller.export_diagnostics(Path(path))

    def _exported(self, report: DiagnosticsReport) -> None:
        self.result.setText(fill(self.tr("Diagnostics written to %1 (no patient data, no secrets)."), report.path))
