"""Einstellungen through the real widgets: saving is atomic through the config layer,
policy-locked settings are disabled and never sent."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QLabel

from practice_client.context import Context
from practice_client.core.config import read_user_config
from practice_client.gui.main_window import MainWindow
from practice_client.gui.pages.settings import SettingsPage
from tests.support.gui_state import controller_under_policy


def test_save_language_and_tray_choice(qtbot, window: MainWindow, client: Context) -> None:
    page = window.pages["settings"]
    window.show_page("settings")
    page.language.setCurrentIndex(page.language.findData("en"))
    page.close_to_tray.setChecked(False)
    assert page.changes() == {"language": "en", "close_to_tray": False}
    with qtbot.waitSignal(window.controller.settingsSaved, timeout=30000):
        qtbot.mouseClick(page.save_button, Qt.MouseButton.LeftButton)
    assert client.config.language == "en" and client.config.close_to_tray is False
    assert read_user_config(client.home.config)["language"] == "en"
    assert "nächsten Start" in page.result.text()


def test_locked_setting_is_disabled_and_never_saved(
    qtbot, gui_app: QApplication, client: Context, monkeypatch: pytest.MonkeyPatch, work_dir: Path
) -> None:
    with controller_under_policy('export_dir = "/srv/pvs/export"\nlock_settings = true\n', work_dir,
                                 monkeypatch) as controller:
        page = SettingsPage(controller)
        qtbot.addWidget(page)
        edit = page.fields["export_dir"]
        assert edit.text() == "/srv/pvs/export" and not edit.isEnabled()
        assert "🔒 vom Administrator festgelegt" in [w.text() for w in page.findChildren(QLabel)]
        edit.setText("/tmp/elsewhere")  # even if it were edited somehow, it is not sent
        page.fields["practice_id"].setText("praxis-neu")
        assert page.changes() == {"practice_id": "praxis-neu"}


def test_retention_and_limits_are_saved_and_a_policy_lock_holds(
    qtbot, gui_app: QApplication, client: Context, monkeypatch: pytest.MonkeyPatch, work_dir: Path
) -> None:
    with controller_under_policy('keep_processed_days = 7\nlocked = ["keep_processed_days"]\n', work_dir,
                                 monkeypatch) as controller:
        ctx = controller.ctx
        page = SettingsPage(controller)
        qtbot.addWidget(page)
        assert page.numbers["keep_processed_days"].value() == 7
        assert not page.numbers["keep_processed_days"].isEnabled()
        assert page.numbers["keep_failed_days"].value() == ctx.config.keep_failed_days
        page.numbers["keep_processed_days"].setValue(30)  # locked: never sent
        page.numbers["keep_failed_days"].setValue(0)  # 0: kept for ever
        page.numbers["max_document_mb"].setValue(100)
        page.debug_logging.setChecked(True)
        assert page.changes() == {"keep_failed_days": 0, "max_document_mb": 100, "debug_logging": True}
        with qtbot.waitSignal(controller.settingsSaved, timeout=30000):
            page.save()
        saved = read_user_config(ctx.home.config)
        assert (saved["keep_failed_days"], saved["max_document_mb"], saved["debug_logging"]) == (0, 100, True)
        assert "keep_processed_days" not in saved


def test_diagnostics_are_exported_from_the_settings(qtbot, window: MainWindow, work_dir: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    import zipfile

    from PySide6.QtWidgets import QFileDialog

    page = window.pages["settings"]
    target = work_dir / "diagnose.zip"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *args, **kwargs: (str(target), ""))
    with qtbot.waitSignal(window.controller.diagnosticsExported, timeout=30000):
        qtbot.mouseClick(page.diagnostics_button, Qt.MouseButton.LeftButton)
    assert "summary.json" in zipfile.ZipFile(target).namelist()
    assert str(target) in page.result.text()
