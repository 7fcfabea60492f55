"""A single-PC practice: the app's first run finds the practice service on this PC and
pairs with it in one step (the admin may ask the local service for a code); the window
that opens then is the service's, and the home holds no practice data."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtWidgets import QWizard

from practice_client.context import Context
from practice_client.gui.app import make_controller, service_to_join
from practice_client.gui.connect_wizard import ConnectWizard
from practice_client.gui.controller import Controller
from practice_client.gui.remote_controller import RemoteController
from practice_client.service.connection import load_connection
from tests.support.service import ServiceProcess

pytestmark = pytest.mark.slow


def test_the_first_run_pairs_this_pc_with_its_own_service(qtbot, service: ServiceProcess,  # type: ignore[no-untyped-def]
                                                          client_home: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STATE_DIRECTORY", str(service.home))  # where the unit keeps the service's home
    ctx = Context()
    target = service_to_join(ctx)
    assert target == (f"127.0.0.1:{service.port}", service.home)
    controller = Controller(ctx)
    controller.stop_polling()
    wizard = ConnectWizard(controller, *target)
    qtbot.addWidget(wizard)
    wizard.show()
    assert wizard.page.here.isVisible() and not wizard.page.isComplete()
    with qtbot.waitSignal(controller.localCode, timeout=30000):
        wizard.page.here.click()
    assert wizard.page.isComplete()
    with qtbot.waitSignal(wizard.accepted, timeout=60000):
        wizard.button(QWizard.WizardButton.FinishButton).click()
    controller.shutdown()
    connection = load_connection(ctx.home)
    assert connection is not None and connection.role == "admin" and connection.port == service.port
    window_controller = make_controller(ctx)
    try:
        assert isinstance(window_controller, RemoteController)
        with qtbot.waitSignal(window_controller.connectionChanged, timeout=30000,
                              check_params_cb=lambda state: state == "service-online"):
            pass
    finally:
        window_controller.shutdown()
    assert not (client_home / "state.sqlite3").exists() and not (client_home / "gnupg").exists()
    ctx.close()


def test_a_home_with_a_named_service_and_no_local_one_asks_for_the_code(client_home: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STATE_DIRECTORY", str(client_home / "no-service-here"))
    ctx = Context()
    assert service_to_join(ctx) is None  # nothing named, nothing local: the practice's own setup
    ctx.update_config(service_address="praxis-server:8471")
    assert service_to_join(ctx) == ("praxis-server:8471", None)
    ctx.close()
