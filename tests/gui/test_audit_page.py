"""Protokoll: the chain's status is shown truthfully (an edited log says so once it is
checked in full) and the filters narrow the entries - in the database, a page at a time."""

from __future__ import annotations

from PySide6.QtCore import QLocale

from practice_client.context import Context
from practice_client.core.text import Text
from practice_client.gui.main_window import MainWindow
from practice_client.gui.pages.audit import details_text
from tests.support.gui_state import refresh, settle


def audit_page(qtbot, window: MainWindow):  # type: ignore[no-untyped-def]
    refresh(qtbot, window.controller)
    window.show_page("audit")
    settle(qtbot, window.controller)
    return window.pages["audit"]


def shown_events(page) -> list[str]:  # type: ignore[no-untyped-def]
    return [page.model.index(row, 2).data() for row in range(page.model.rowCount())]


def test_intact_chain_and_filter(qtbot, window: MainWindow, client: Context) -> None:
    client.store.record("key.exported", fingerprint=client.config.practice_key_fingerprint)
    page = audit_page(qtbot, window)
    assert "Kette unversehrt" in page.status.text()
    assert "Praxisschlüssel exportiert" in shown_events(page)
    page.kind.setCurrentIndex(page.kind.findData("key.exported"))
    settle(qtbot, window.controller)
    assert set(shown_events(page)) == {"Praxisschlüssel exportiert"}
    page.kind.setCurrentIndex(0)
    qtbot.keyClicks(page.search, client.config.practice_key_fingerprint[:12].lower())
    qtbot.waitUntil(lambda: page.model.query.search != "", timeout=5000)
    settle(qtbot, window.controller)
    assert shown_events(page) and "Praxisschlüssel exportiert" in shown_events(page)
    page.search.clear()
    qtbot.keyClicks(page.search, "no-such-thing-anywhere")
    qtbot.waitUntil(lambda: page.model.query.search == "no-such-thing-anywhere", timeout=5000)
    settle(qtbot, window.controller)
    assert shown_events(page) == []


def test_new_entries_arrive_on_refresh_on_top(qtbot, window: MainWindow, client: Context) -> None:
    page = audit_page(qtbot, window)
    before = page.model.rowCount()
    client.store.record("key.exported", fingerprint=client.config.practice_key_fingerprint)
    refresh(qtbot, window.controller)
    assert page.model.rowCount() == before + 1
    assert shown_events(page)[0] == "Praxisschlüssel exportiert"


def test_edited_log_is_shown_as_broken(qtbot, window: MainWindow, client: Context) -> None:
    client.store.record("key.exported", fingerprint=client.config.practice_key_fingerprint)
    page = audit_page(qtbot, window)
    path = client.home.audit
    lines = path.read_bytes().splitlines(keepends=True)
    edited = lines[0].replace(b'"seq": 1,', b'"seq": 1 ,')  # same meaning, different bytes: the link breaks
    assert edited != lines[0]
    lines[0] = edited
    path.write_bytes(b"".join(lines))
    # "Verify again" checks every entry, not only those added since the last check
    with qtbot.waitSignal(window.controller.auditChecked, timeout=30000, check_params_cb=lambda r: r.full):
        page.verify_button.click()
    assert "Kette unterbrochen" in page.status.text()
    assert page.banner.property("ok") is False


def test_a_stored_text_in_the_details_shows_in_the_gui_language_only(gui_app) -> None:  # type: ignore[no-untyped-def]
    reason = Text("vom Server abgelehnt", "refused by the server").encode()
    assert details_text({"reason": reason, "request_id": "r-1"}) == "reason: vom Server abgelehnt · request_id: r-1"
    QLocale.setDefault(QLocale(QLocale.Language.English, QLocale.Country.UnitedKingdom))
    try:
        assert details_text({"reason": reason}) == "reason: refused by the server"
    finally:
        QLocale.setDefault(QLocale(QLocale.Language.German, QLocale.Country.Germany))
    assert details_text({"reason": "plain, from an earlier version"}) == "reason: plain, from an earlier version"
