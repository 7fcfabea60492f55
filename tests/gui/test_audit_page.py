"""Protokoll: the chain's status is shown truthfully (an edited log says so) and the
filter narrows the entries."""

from __future__ import annotations

from practice_client.context import Context
from practice_client.gui.main_window import MainWindow
from tests.gui.conftest import refresh


def visible_rows(page) -> list[str]:  # type: ignore[no-untyped-def]
    return [page.list.topLevelItem(i).text(2) for i in range(page.list.topLevelItemCount())
            if not page.list.topLevelItem(i).isHidden()]


def test_intact_chain_and_filter(qtbot, window: MainWindow, client: Context) -> None:
    client.store.record("key.exported", fingerprint=client.config.practice_key_fingerprint)
    refresh(qtbot, window.controller)
    page = window.pages["audit"]
    assert "Kette unversehrt" in page.status.text()
    assert "Praxisschlüssel exportiert" in visible_rows(page)
    page.kind.setCurrentIndex(page.kind.findData("key.exported"))
    assert set(visible_rows(page)) == {"Praxisschlüssel exportiert"}
    page.kind.setCurrentIndex(0)
    qtbot.keyClicks(page.search, client.config.practice_key_fingerprint[:12].lower())
    assert visible_rows(page) and all(r for r in visible_rows(page))
    page.search.clear()
    qtbot.keyClicks(page.search, "no-such-thing-anywhere")
    assert visible_rows(page) == []


def test_edited_log_is_shown_as_broken(qtbot, window: MainWindow, client: Context) -> None:
    client.store.record("key.exported", fingerprint=client.config.practice_key_fingerprint)
    path = client.home.audit
    lines = path.read_bytes().splitlines(keepends=True)
    edited = lines[0].replace(b'"seq": 1,', b'"seq": 1 ,')  # same meaning, different bytes: the hash breaks
    assert edited != lines[0]
    lines[0] = edited
    path.write_bytes(b"".join(lines))
    refresh(qtbot, window.controller)
    page = window.pages["audit"]
    assert "Kette unterbrochen" in page.status.text()
    assert page.banner.property("ok") is False
