"""Einstellungen through the real widgets: saving is atomic through the config layer,
policy-locked settings are disabled and never sent."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QLabel

from practice_client.context import Context
from practice_client.core.config import read_user_config
from practice_client.gui.controller import Controller
from practice_client.gui.main_window import MainWindow
from practice_client.gui.pages.settings import SettingsPage


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
    policy = work_dir / "policy.toml"
    policy.write_text('export_dir = "/srv/pvs/export"\nlock_settings = true\n')
    monkeypatch.setenv("PRACTICE_CLIENT_POLICY", str(policy))
    ctx = Context()
    controller = Controller(ctx)
    try:
        page = SettingsPage(controller)
        qtbot.addWidget(page)
        edit = page.fields["export_dir"]
        assert edit.text() == "/srv/pvs/export" and not edit.isEnabled()
        assert "🔒 vom Administrator festgelegt" in [w.text() for w in page.findChildren(QLabel)]
        edit.setText("/tmp/elsewhere")  # even if it were edited somehow, it is not sent
        page.fields["practice_id"].setText("praxis-neu")
        assert page.changes() == {"practice_id": "praxis-neu"}
    finally:
        controller.shutdown()
        ctx.close()
