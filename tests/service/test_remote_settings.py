"""Einstellungen at a workstation: the practice's settings are the practice service's -
its values and the locks of its machine's policy, read and saved over its real HTTPS API
(real TLS on loopback) - while the workstation's own settings stay in its own config."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from practice_client.context import Context
from practice_client.core.config import read_user_config
from practice_client.core.paths import Home
from practice_client.gui.app import make_controller
from practice_client.gui.pages.deliveries import DeliveriesPage
from practice_client.gui.pages.settings import SettingsPage
from practice_client.gui.remote_controller import RemoteController
from tests.support.service import ServiceProcess, pair_home

pytestmark = pytest.mark.slow

OWN_PATTERN = r"^ws_(?P<patient_number>\d+)_.+$"  # the workstation's own file: never the practice's


@contextmanager
def workstation_page(qtbot, service: ServiceProcess, home: Path, role: str) -> Iterator[SettingsPage]:  # type: ignore[no-untyped-def]
    """The settings page of a paired workstation whose own config file says otherwise
    than the service (another export folder and pattern), once the service's settings arrived."""
    pair_home(service, home, "Sprechzimmer", role)
    ctx = Context()
    ctx.update_config(export_dir=str(home / "ws-export"), filename_pattern=OWN_PATTERN, keep_processed_days=1)
    controller = make_controller(ctx)
    assert isinstance(controller, RemoteController)
    try:
        page = SettingsPage(controller)
        qtbot.addWidget(page)
        with qtbot.waitSignal(controller.settingsLoaded, timeout=30000):
            page.show()  # each showing reads the service's settings (in a worker)
        yield page
    finally:
        controller.shutdown()
        ctx.close()


def test_an_admin_workstation_shows_and_saves_the_practices_settings(
        qtbot, practice: ServiceProcess, client_home: Path) -> None:  # type: ignore[no-untyped-def]
    service_config = Home(practice.home).config
    before = read_user_config(service_config)
    with workstation_page(qtbot, practice, client_home, "admin") as page:
        assert page.fields["export_dir"].text() == before["export_dir"] == str(practice.home / "export")
        assert page.fields["filename_pattern"].text() != OWN_PATTERN
        assert page.numbers["keep_processed_days"].value() == 30
        assert page.fields["export_dir"].isEnabled() and page.save_button.isEnabled()
        assert page.practice_heading.isVisibleTo(page) and page.own_heading.isVisibleTo(page)
        assert not page.read_only_note.isVisibleTo(page)
        moved = practice.home / "export-neu"
        moved.mkdir()
        page.fields["export_dir"].setText(str(moved))
        page.numbers["keep_processed_days"].setValue(12)
        page.language.setCurrentIndex(page.language.findData("en"))  # the workstation's own
        assert page.changes() == {"export_dir": str(moved), "keep_processed_days": 12, "language": "en"}
        with qtbot.waitSignal(page.controller.settingsSaved, timeout=30000):
            qtbot.mouseClick(page.save_button, Qt.MouseButton.LeftButton)
        assert page.fields["export_dir"].text() == str(moved)  # what the service now runs with
        assert page.numbers["keep_processed_days"].value() == 12
        assert page.changes() == {}
    after = read_user_config(service_config)
    assert after["export_dir"] == str(moved) and after["keep_processed_days"] == 12
    assert "language" not in after  # the GUI language is the workstation's
    own = read_user_config(Home(client_home).config)
    assert own["language"] == "en" and own["export_dir"] == str(client_home / "ws-export")
    assert own["keep_processed_days"] == 1


def test_a_key_the_services_policy_locks_is_locked_at_the_workstation(
        qtbot, practice: ServiceProcess, client_home: Path, work_dir: Path) -> None:  # type: ignore[no-untyped-def]
    policy = work_dir / "service-policy.toml"
    policy.write_text('keep_processed_days = 7\nlocked = ["keep_processed_days"]\n', encoding="utf-8")
    practice.stop()
    practice.extra_env["PRACTICE_CLIENT_POLICY"] = str(policy)  # the service machine's policy, not this one's
    practice.start()
    with workstation_page(qtbot, practice, client_home, "admin") as page:
        days, note = page.rows["keep_processed_days"]
        assert page.numbers["keep_processed_days"].value() == 7 and not days.isEnabled()
        assert note.isVisibleTo(page)
        assert page.numbers["keep_failed_days"].isEnabled()
        assert not page.rows["language"][1].isVisibleTo(page)
        page.numbers["keep_processed_days"].setValue(30)  # locked: never sent
        assert page.changes() == {}
        # a save the service refuses (its policy locked the key after the page read it): its line, on the page
        with qtbot.waitSignal(page.controller.failed, timeout=30000) as refused:
            page.controller.save_settings({"keep_processed_days": 30})
        assert refused.args[0] == "save_settings" and "keep_processed_days:" in refused.args[1]
        assert page.result.text() == refused.args[1]
    assert "keep_processed_days" not in read_user_config(Home(practice.home).config)


def test_a_staff_workstation_shows_the_practices_settings_read_only(
        qtbot, practice: ServiceProcess, client_home: Path) -> None:  # type: ignore[no-untyped-def]
    service_config = Home(practice.home).config
    before = read_user_config(service_config)
    with workstation_page(qtbot, practice, client_home, "staff") as page:
        assert page.fields["export_dir"].text() == before["export_dir"]
        assert page.read_only_note.isVisibleTo(page)
        for key in ("export_dir", "filename_pattern", "server_url", "after_delivery", "keep_processed_days"):
            assert not page.rows[key][0].isEnabled(), key
        assert not page.backup_button.isEnabled()
        assert page.language.isEnabled() and page.save_button.isEnabled()  # its own settings it may change
        page.fields["export_dir"].setText("/anderswo")
        page.language.setCurrentIndex(page.language.findData("en"))
        assert page.changes() == {"language": "en"}
        with qtbot.waitSignal(page.controller.settingsSaved, timeout=30000):
            qtbot.mouseClick(page.save_button, Qt.MouseButton.LeftButton)
        assert page.fields["export_dir"].text() == before["export_dir"]
    assert read_user_config(service_config) == before
    assert read_user_config(Home(client_home).config)["language"] == "en"


def test_the_services_number_only_rule_is_said_on_the_workstations_deliveries_page(
        qtbot, practice: ServiceProcess, client_home: Path, work_dir: Path) -> None:  # type: ignore[no-untyped-def]
    """The rule that lets a patient number alone match is the service machine's policy: a
    workstation whose own machine has no such policy still tells its staff."""
    policy = work_dir / "service-policy.toml"
    policy.write_text("number_only_matching = true\n", encoding="utf-8")
    practice.stop()
    practice.extra_env["PRACTICE_CLIENT_POLICY"] = str(policy)
    practice.start()
    with workstation_page(qtbot, practice, client_home, "staff") as page:
        deliveries = DeliveriesPage(page.controller)
        qtbot.addWidget(deliveries)
        with qtbot.waitSignal(page.controller.settingsLoaded, timeout=30000):
            page.controller.load_settings()
        assert deliveries.policy_note.isVisibleTo(deliveries)
        assert not Context().config.number_only_matching  # the workstation's own config says otherwise
