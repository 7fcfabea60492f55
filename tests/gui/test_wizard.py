"""The first-run wizard through the real widgets: real provisioning (gpg key, keyring,
registration with the testbed platform over HTTPS), the connection test, and
policy-locked settings shown disabled with their administrator's value."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QLabel, QWizard

from practice_client.context import Context
from practice_client.core.secrets import PLATFORM_TOKEN
from practice_client.gui.controller import Controller
from practice_client.gui.wizard import SetupWizard
from tests.support.worlds import World


@pytest.fixture
def fresh(gui_app: QApplication, client_home: Path) -> Iterator[Controller]:
    ctx = Context()
    controller = Controller(ctx)
    yield controller
    controller.shutdown()
    ctx.close()


def fill_platform(qtbot, wizard: SetupWizard, world: World, work: Path) -> None:  # type: ignore[no-untyped-def]
    ident = work / "ident.asc"
    ident.write_text(world.authority.public_key(), encoding="ascii")
    page = wizard.platform
    for edit, value in (
        (page.server, world.platform.url), (page.practice_id, "praxis-gui"), (page.domain, "testbed.invalid"),
        (page.ident_key, str(ident)), (page.ca_file, str(world.platform.ca_file)),
    ):
        edit.clear()
        qtbot.keyClicks(edit, value)
    page.token.setText(world.platform.token)


def test_wizard_sets_up_registers_and_tests_the_connection(
    qtbot, fresh: Controller, world: World, work_dir: Path
) -> None:
    wizard = SetupWizard(fresh)
    qtbot.addWidget(wizard)
    wizard.show()
    wizard.next()  # welcome
    assert not wizard.button(QWizard.WizardButton.NextButton).isEnabled(), "required fields are empty"
    fill_platform(qtbot, wizard, world, work_dir)
    assert wizard.button(QWizard.WizardButton.NextButton).isEnabled()
    wizard.next()
    wizard.folder.export_dir.setText(str(work_dir / "export"))
    with qtbot.waitSignal(fresh.setupFinished, timeout=120000) as finished:
        wizard.next()  # the finish page runs provision() in a worker
    result = finished.args[0]
    assert result.registered and result.key_created
    assert wizard.button(QWizard.WizardButton.FinishButton).isEnabled()
    assert wizard.finish.backup_button.isVisible(), "the wizard asks for the key backup"
    cfg = fresh.ctx.config
    assert cfg.practice_key_fingerprint == result.practice_key_fingerprint and cfg.practice_id == "praxis-gui"
    assert fresh.ctx.secrets.get(PLATFORM_TOKEN) == world.platform.token
    assert world.platform.token not in (fresh.ctx.home.config).read_text()
    with qtbot.waitSignal(fresh.connectionTested, timeout=60000) as tested:
        qtbot.mouseClick(wizard.finish.test_button, Qt.MouseButton.LeftButton)
    assert tested.args[0] is True, tested.args[1]
    assert "Verbunden" in wizard.finish.test_result.text()


def test_wizard_reports_bad_input_and_writes_no_key(qtbot, fresh: Controller, world: World, work_dir: Path) -> None:
    wizard = SetupWizard(fresh)
    qtbot.addWidget(wizard)
    wizard.show()
    wizard.next()
    fill_platform(qtbot, wizard, world, work_dir)
    wizard.platform.server.setText("http://plain-http.invalid")  # no TLS: refused
    wizard.next()
    with qtbot.waitSignal(fresh.failed, timeout=60000) as failed:
        wizard.next()
    assert failed.args[0] == "setup" and "https" in failed.args[1]
    assert "fehlgeschlagen" in wizard.finish.status.text()
    assert not wizard.button(QWizard.WizardButton.FinishButton).isEnabled()
    assert not fresh.ctx.config.practice_key_fingerprint


def test_policy_locked_settings_are_shown_disabled(
    qtbot, gui_app: QApplication, client_home: Path, monkeypatch: pytest.MonkeyPatch, work_dir: Path
) -> None:
    policy = work_dir / "policy.toml"
    policy.write_text('server_url = "https://platform.praxisnetz.example"\nlocked = ["server_url"]\n')
    monkeypatch.setenv("PRACTICE_CLIENT_POLICY", str(policy))
    ctx = Context()
    controller = Controller(ctx)
    try:
        wizard = SetupWizard(controller)
        qtbot.addWidget(wizard)
        server = wizard.platform.server
        assert server.text() == "https://platform.praxisnetz.example" and not server.isEnabled()
        notes = [w.text() for w in wizard.platform.findChildren(QLabel) if w.objectName() == "lockedNote"]
        assert notes == ["🔒 vom Administrator festgelegt"]
        assert wizard.platform.practice_id.isEnabled()
    finally:
        controller.shutdown()
        ctx.close()
