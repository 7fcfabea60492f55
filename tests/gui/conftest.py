"""GUI fixtures: the real widgets over a real, set-up client home (gpg, keyring, the
testbed platform over HTTPS), driven with pytest-qt. The platform, identity authority
and simulated patients are the delivery tests' session world, reused here."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtWidgets import QApplication

from practice_client.context import Context
from practice_client.core.paths import Home
from practice_client.gui.controller import Controller
from practice_client.gui.main_window import MainWindow
from practice_client.gui.tray import Tray
from practice_client.testbed.history import build_history
from tests.conftest import kill_agents, short_tmpdir
from tests.support.gui_desktop import garbage_in_the_gui_thread, gui_app, x_display  # noqa: F401 - fixtures
from tests.support.gui_state import BIG_HOME, refresh
from tests.support.outlook import outlook_writer  # noqa: F401 - a fixture of the .msg drop test
from tests.support.worlds import World, client, copy_home, world  # noqa: F401 - fixtures shared with delivery

__all__ = ["World", "client", "garbage_in_the_gui_thread", "gui_app", "world", "x_display"]


@pytest.fixture
def controller(gui_app: QApplication, client: Context) -> Iterator[Controller]:  # noqa: F811
    ctl = Controller(client)
    yield ctl
    ctl.shutdown()


@pytest.fixture
def window(qtbot, controller: Controller) -> MainWindow:  # type: ignore[no-untyped-def]
    """The main window, shown, with its first overview and first page loaded."""
    tray = Tray(controller)
    win = MainWindow(controller, tray)
    qtbot.addWidget(win)
    win.resize(1280, 800)
    win.show()
    refresh(qtbot, controller)
    return win


@pytest.fixture(scope="session")
def big_home_template(world: World) -> Iterator[Path]:  # noqa: F811
    """A set-up home with :data:`BIG_HOME` of history, built once per test session through
    the store (every change audited), copied for each test that uses it."""
    root = short_tmpdir("pbt")
    copy_home(world.template, root)
    ctx = Context(home=Home(root))
    try:
        build_history(ctx.store, BIG_HOME)
        assert ctx.store.verify_audit(full=True).ok  # the copies remember where the check got to
    finally:
        ctx.close()
    yield root
    kill_agents(root)
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def big_client(big_home_template: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Context]:
    """A copy of the big home (its own database, log and folders), as ``client`` is of the template."""
    home = short_tmpdir("pbc")
    copy_home(big_home_template, home)
    monkeypatch.setenv("PRACTICE_CLIENT_HOME", str(home))
    ctx = Context()
    ctx.update_config(export_dir=str(home / "export"), poll_seconds=3600.0)
    (home / "export").mkdir(exist_ok=True)
    yield ctx
    ctx.close()
    kill_agents(home)
    shutil.rmtree(home, ignore_errors=True)
