"""Eingang through the real widgets, over real shares: the testbed platform over HTTPS,
patients' apps signing and encrypting, the practice's GnuPG, a real clamd with the test's
signature database, the PMS import folder. The page names the patient by the PMS record
(an unverified share names none and shows none of its claims), shows each state, counts
what needs staff in the window, releases (admin, reason, two identifiers where no patient
was verified, audited) and discards through the controller's workers; German first, and
an English GUI shows English only."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import Qt, QTranslator
from PySide6.QtWidgets import QApplication, QLabel, QPushButton

from practice_client.context import Context
from practice_client.core.models import Patient
from practice_client.core.policy import read_policy
from practice_client.gui.controller import Controller
from practice_client.gui.i18n import install_translators
from practice_client.gui.main_window import PAGES, MainWindow
from practice_client.gui.pages.inbox import InboxPage
from practice_client.gui.tray import Tray
from practice_client.shares import actions
from practice_client.shares.job import SharesJob
from practice_client.testbed.clamd import EICAR, EICAR_SIGNATURE, RunningClamd
from tests.support import pdfs
from tests.support.gui_state import refresh, settle
from tests.support.platform import fast_client
from tests.support.shares import (
    clamd,  # noqa: F401 - the session's clamd
    scanning_practice,
    share,
)
from tests.support.worlds import World

pytestmark = pytest.mark.slow


@pytest.fixture
def shares(world: World, client: Context, clamd: RunningClamd, tmp_path: Path) -> dict[str, str]:  # noqa: F811
    """Three real shares through the real job: Erika's clean PDF (handed over), her lab
    values with EICAR (quarantined: malware) and an unsigned one (quarantined, no patient)."""
    scanning_practice(world, client, clamd, tmp_path)
    erika = world.patients["1001"]
    made = {
        "clean": share(world, erika, pdfs.clean_pdf(), "Befund Kardiologie.pdf"),
        "infected": share(world, erika, b"Laborwerte\n" + EICAR + b"\n", "labor.txt"),
        "unsigned": share(world, erika, b"Impfpass\n", "impfpass.txt", signed=False),
    }
    run_job(world, client)
    return made


def run_job(world: World, ctx: Context) -> None:
    job = SharesJob(ctx, client=lambda _ctx: fast_client(world.platform))
    job.run_once()
    job.stop()


def admin(ctx: Context, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The administrator's policy makes the desktop user an admin (the role releases)."""
    policy = tmp_path / "admin-policy.toml"
    policy.write_text("local_user_is_admin = true\n", encoding="utf-8")
    monkeypatch.setenv("PRACTICE_CLIENT_POLICY", str(policy))
    ctx.policy = read_policy()
    ctx.update_config()
    assert ctx.config.local_user_is_admin


def open_inbox(qtbot, window: MainWindow) -> InboxPage:  # type: ignore[no-untyped-def]
    refresh(qtbot, window.controller)
    window.show_page("inbox")
    settle(qtbot, window.controller)  # the list is read when the page is first shown
    page = window.pages["inbox"]
    assert isinstance(page, InboxPage)
    return page


def cells(page: InboxPage, share_id: str) -> list[str]:
    number = page.model.row_of(share_id)
    assert number is not None, f"{share_id} not listed"
    return [page.model.index(number, c).data() for c in range(page.model.columnCount())]


def test_each_share_with_its_patient_by_the_pms_record_and_its_state(
    qtbot, window: MainWindow, client: Context, shares: dict[str, str]
) -> None:
    page = open_inbox(qtbot, window)
    keys = [row.key for row in page.model.rows()]
    assert set(keys[:2]) == {shares["infected"], shares["unsigned"]}, "what needs staff comes first"
    status, name, born, number, kind, file_name, _size, _received, details = cells(page, shares["clean"])
    assert (status, name, born, number) == ("An PVS übergeben", "Erika Mustermann", "12.08.1964", "1001")
    assert (kind, file_name) == ("Befund", "Befund Kardiologie.pdf")
    assert re.fullmatch(r"Im PVS-Importordner als 1001_20261130_\w{8}\.pdf", details), details
    infected = cells(page, shares["infected"])
    assert infected[:4] == ["In Quarantäne", "Erika Mustermann", "12.08.1964", "1001"]
    assert infected[8] == f"Schadsoftware gefunden: {EICAR_SIGNATURE}"
    unsigned = cells(page, shares["unsigned"])  # no verified patient: no name, and none of its claims
    assert unsigned[:6] == ["In Quarantäne", "–", "–", "–", "–", "–"]
    assert unsigned[8].startswith("nicht signiert")
    assert window.navigation.item(PAGES.index("inbox")).text() == "Eingang (2)"
    assert window.controller.overview.shares_needing_staff == 2
    assert "2 geteilte(s) Dokument(e)" in page.summary.text()
    assert "⚠" in window.attention.text()
    assert not any("öffnen" in b.text().lower() or "open" in b.text().lower()
                   for b in page.findChildren(QPushButton)), "received files are never opened by the client"

    # the PMS renames her: the rows that show her follow on the next refresh (change stamps)
    client.store.upsert_patients([Patient("1001", "Erika Musterfrau", "1964-08-12", "+491711234567")], "praxis.gdt")
    refresh(qtbot, window.controller)
    assert cells(page, shares["clean"])[1] == "Erika Musterfrau"
    assert cells(page, shares["unsigned"])[1] == "–"


def test_release_needs_the_admin_role_a_reason_and_two_identifiers_and_is_audited(
    qtbot, window: MainWindow, world: World, client: Context, shares: dict[str, str], tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    page = open_inbox(qtbot, window)
    unsigned = shares["unsigned"]
    assert page.select(unsigned)
    assert not page.release_button.isEnabled(), "staff by default: only an admin releases"
    assert page.discard_button.isEnabled()
    with qtbot.waitSignal(window.controller.failed, timeout=30000) as failed:  # the domain refuses it too
        window.controller.release_share(unsigned, "Patientin angerufen", "1001", "12.08.1964")
    assert "nur Administratoren geben aus der Quarantäne frei" in failed.args[1]  # the German GUI: German only
    assert "administrator" not in failed.args[1]
    assert client.store.get_share(unsigned).state == "quarantined"  # type: ignore[union-attr]

    admin(client, tmp_path, monkeypatch)
    refresh(qtbot, window.controller)
    assert page.select(unsigned) and page.release_button.isEnabled()
    qtbot.mouseClick(page.release_button, Qt.MouseButton.LeftButton)
    dialog = page.dialog
    assert dialog is not None and dialog.isVisible()
    assert "nicht signiert" in dialog.findChildren(QLabel)[0].text()  # the finding, as staff decide on it
    qtbot.keyClicks(dialog.reason, "Patientin angerufen, Impfpass bestaetigt")
    dialog.confirm.setChecked(True)  # type: ignore[union-attr]
    assert not dialog.ok.isEnabled(), "no verified patient: the PMS patient number and birth date first"
    qtbot.keyClicks(dialog.patient_number, "1001")  # type: ignore[attr-defined]
    qtbot.keyClicks(dialog.birth_date, "12.08.1964")  # type: ignore[attr-defined]
    assert dialog.ok.isEnabled()
    gui_thread = threading.current_thread()
    ran_in: list[threading.Thread] = []
    release = actions.release
    monkeypatch.setattr(actions, "release", lambda *a, **k: (ran_in.append(threading.current_thread()),
                                                             release(*a, **k))[1])
    with qtbot.waitSignal(window.controller.shareReleased, timeout=30000):
        qtbot.mouseClick(dialog.ok, Qt.MouseButton.LeftButton)
    assert ran_in and ran_in[0] is not gui_thread, "the release runs in a worker, never in the GUI thread"
    settle(qtbot, window.controller)
    released = client.store.get_share(unsigned)
    assert released is not None and (released.state, released.patient_number) == ("verified", "1001")
    entry = next(e for e in client.store.audit.entries() if e["event"] == "share.verified"
                 and e["details"]["share_id"] == unsigned and e["details"].get("input") == "released_signature")
    assert entry["details"]["role"] == "admin" and entry["details"]["actor"].startswith("local:")
    assert entry["details"]["released"] == "unsigned" and entry["details"]["has_reason"] is True
    assert "Impfpass bestaetigt" not in client.home.audit.read_text("utf-8"), "staff's words stay sealed"
    assert cells(page, unsigned)[:4] == ["Wird geprüft", "Erika Mustermann", "12.08.1964", "1001"]

    run_job(world, client)  # a released signature problem is still scanned (real clamd), then handed over
    refresh(qtbot, window.controller)
    assert cells(page, unsigned)[0] == "An PVS übergeben"
    assert window.navigation.item(PAGES.index("inbox")).text() == "Eingang (1)"


def test_discard_through_the_dialog(qtbot, window: MainWindow, client: Context, shares: dict[str, str]) -> None:
    page = open_inbox(qtbot, window)
    infected = shares["infected"]
    assert page.select(infected)
    qtbot.mouseClick(page.discard_button, Qt.MouseButton.LeftButton)
    dialog = page.dialog
    assert dialog is not None and not dialog.ok.isEnabled(), "a reason first"
    qtbot.keyClicks(dialog.reason, "Schadsoftware")
    with qtbot.waitSignal(window.controller.shareDiscarded, timeout=30000):
        qtbot.mouseClick(dialog.ok, Qt.MouseButton.LeftButton)
    settle(qtbot, window.controller)
    gone = client.store.get_share(infected)
    assert gone is not None and (gone.state, gone.receipt) == ("discarded", "refused")
    assert not (client.home.root / "shares" / infected).exists()
    status, *_rest, details = cells(page, infected)
    assert (status, details) == ("Verworfen", "verworfen: Schadsoftware (Schadsoftware gefunden)")
    assert page.select(infected) and not page.discard_button.isEnabled()
    entry = next(e for e in client.store.audit.entries() if e["event"] == "share.discarded")
    assert entry["details"]["share_id"] == infected and entry["details"]["was"] == "infected"


@pytest.fixture
def english(gui_app: QApplication) -> Iterator[None]:
    """The app in English for one test (German again afterwards). Every translator the app
    holds goes (they are its children: an app set up twice in a session holds two sets)."""
    for translator in gui_app.findChildren(QTranslator):
        gui_app.removeTranslator(translator)
    english = install_translators(gui_app, "en")
    yield
    for translator in english:
        gui_app.removeTranslator(translator)
    gui_app.setProperty("translators", install_translators(gui_app, "de"))


GERMAN = re.compile(r"[äöüÄÖÜß]|\b(nicht|Eingang|Quarantäne|Patientin|geteilte|Geboren|verworfen|signiert|"
                    r"Schadsoftware|übergeben)\b")


def test_an_english_gui_shows_english_only(qtbot, english: None, client: Context,  # type: ignore[no-untyped-def]
                                            shares: dict[str, str]) -> None:
    controller = Controller(client)
    try:
        window = MainWindow(controller, Tray(controller))
        qtbot.addWidget(window)
        window.show()
        page = open_inbox(qtbot, window)
        assert window.navigation.item(PAGES.index("inbox")).text() == "Incoming (2)"
        assert cells(page, shares["infected"])[8] == f"malware found: {EICAR_SIGNATURE}"
        assert cells(page, shares["unsigned"])[0] == "Quarantined"
        assert cells(page, shares["clean"])[0] == "Handed to the PMS"
        headers = [page.model.headerData(c, Qt.Orientation.Horizontal) for c in range(page.model.columnCount())]
        rows = [cells(page, key) for key in shares.values()]
        texts = [*headers, *(text for row in rows for text in row), page.summary.text(), page.note.text(),
                 *(b.text() for b in page.findChildren(QPushButton)), window.title.text(),
                 *(window.navigation.item(i).text() for i in range(window.navigation.count()))]
        german = [t for t in texts if GERMAN.search(t.replace("Erika Mustermann", ""))]
        assert german == [], f"German in the English GUI: {german}"
        page.select(shares["infected"])
        qtbot.mouseClick(page.discard_button, Qt.MouseButton.LeftButton)
        assert page.dialog is not None and not GERMAN.search(page.dialog.windowTitle())
        page.dialog.reject()
        with qtbot.waitSignal(controller.failed, timeout=30000) as failed:
            controller.release_share(shares["unsigned"], "x")
        assert "only an administrator releases" in failed.args[1]
    finally:
        controller.shutdown()
