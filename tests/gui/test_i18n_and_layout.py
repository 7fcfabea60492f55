"""Languages and layout: every GUI string is translated (lupdate over the sources finds
nothing new or unfinished), the shipped .qm is what lrelease makes of the .ts, English
works, pages survive long German words at a narrow width, and every button is
reachable by keyboard with a name for screen readers."""

from __future__ import annotations

import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from PySide6.QtCore import QCoreApplication, QLocale, QSize
from PySide6.QtWidgets import QAbstractButton, QApplication, QLabel, QPushButton

from practice_client.gui.i18n import install_translators
from practice_client.gui.main_window import PAGES, MainWindow
from practice_client.gui.resources import resources_dir

ROOT = Path(__file__).resolve().parents[2]
TS = resources_dir() / "translations" / "practice_client_de.ts"
QM = resources_dir() / "translations" / "practice_client_de.qm"
BIN = Path(sys.executable).parent


def tool(name: str) -> str:
    path = BIN / name
    return str(path) if path.exists() else (shutil.which(name) or name)


def test_every_gui_string_is_translated(work_dir: Path) -> None:
    copy = work_dir / "check_de.ts"
    shutil.copy(TS, copy)
    sources = sorted(str(p) for p in (ROOT / "practice_client" / "gui").rglob("*.py"))
    subprocess.run(
        [tool("pyside6-lupdate"), *sources, "-ts", str(copy), "-source-language", "en", "-target-language", "de",
         "-no-obsolete", "-locations", "none"],
        check=True, capture_output=True, timeout=120,
    )
    messages = ET.parse(copy).getroot().iter("message")
    untranslated = [
        m.findtext("source") for m in messages
        if m.find("translation") is None or m.find("translation").get("type") in ("unfinished", "vanished",
                                                                                  "obsolete")
        or not (m.findtext("translation") or "").strip()
    ]
    assert untranslated == [], f"untranslated strings (run 'make translations' and translate): {untranslated}"
    assert copy.read_bytes() == TS.read_bytes(), "the .ts is out of date with the sources: run 'make translations'"


def test_shipped_qm_is_compiled_from_the_ts(work_dir: Path) -> None:
    fresh = work_dir / "fresh.qm"
    subprocess.run([tool("pyside6-lrelease"), str(TS), "-qm", str(fresh)], check=True, capture_output=True,
                   timeout=60)
    assert fresh.read_bytes() == QM.read_bytes(), "practice_client_de.qm is stale: run 'make translations'"


def test_placeholders_survive_translation() -> None:
    for message in ET.parse(TS).getroot().iter("message"):
        source, translation = message.findtext("source") or "", message.findtext("translation") or ""
        for n in range(1, 5):
            assert (f"%{n}" in source) == (f"%{n}" in translation), (source, translation)
        assert source.count("&") == translation.count("&"), f"keyboard accelerator lost: {source!r}"


def test_german_catalogue_translates_and_english_needs_none(gui_app: QApplication) -> None:
    assert QCoreApplication.translate("MainWindow", "Requests") == "Anfragen"  # the app runs German
    for language, expected in (("de", "Anfragen"), ("en", "")):
        translators = install_translators(gui_app, language)
        try:
            ours = [t for t in translators if "practice_client" in t.filePath()]
            assert [t.translate("MainWindow", "Requests") for t in ours] == ([expected] if expected else [])
            assert any("qtbase" in t.filePath() for t in translators), "Qt's own buttons are translated too"
        finally:
            for translator in translators:
                gui_app.removeTranslator(translator)
            QLocale.setDefault(QLocale(QLocale.Language.German, QLocale.Country.Germany))


@pytest.mark.parametrize("page", PAGES)
def test_pages_fit_a_narrow_window_with_long_german_words(qtbot, window: MainWindow, page: str) -> None:
    window.show_page(page)
    window.resize(QSize(900, 640))
    qtbot.waitUntil(lambda: window.width() <= 900 or window.minimumSizeHint().width() > 900, timeout=2000)
    hint = window.minimumSizeHint().width()
    assert hint <= 900, f"{page}: the layout needs {hint} px - a label does not wrap or elide"
    current = window.pages[page]
    for label in current.findChildren(QLabel):
        if label.isVisible() and label.wordWrap():
            assert label.width() >= min(label.sizeHint().width(), 120), f"{page}: label squeezed: {label.text()!r}"
    # the window's own grab renders (what --screenshot saves) at this size
    assert not window.grab().isNull()


def test_every_push_button_is_keyboard_reachable_and_named(window: MainWindow) -> None:
    for key in PAGES:
        for button in window.pages[key].findChildren(QPushButton):
            assert button.focusPolicy() & button.focusPolicy().TabFocus, f"{key}: {button.text()!r} not tabbable"
            assert button.text().strip() or button.accessibleName(), f"{key}: button without a name"
    labelled = [b for b in window.findChildren(QAbstractButton) if "&" in b.text()]
    assert len(labelled) >= 10, "the main actions have keyboard accelerators (Alt+letter)"


@pytest.mark.parametrize(("language", "shown", "not_shown"), [
    ("en", "the folder does not exist", "Ordner"),
    ("de", "der Ordner existiert nicht", "folder"),
])
def test_an_error_is_shown_in_the_gui_language_only(
    qtbot, gui_app: QApplication, window: MainWindow, language: str, shown: str, not_shown: str,
) -> None:
    """The layers below raise German and English apart (core.text.Text); the window
    picks its own language - an English GUI shows no German, and the other way round."""
    target = Path("/gibt-es-nicht-1234") / "diagnostics.zip"
    translators = install_translators(gui_app, language)
    try:
        with qtbot.waitSignal(window.controller.failed, timeout=30000) as failed:
            window.controller.export_diagnostics(target)
        assert failed.args[1] == f"{target}: {shown}"
        assert window.message.text() == f"{target}: {shown}" and window.message_bar.isVisible()
        assert not_shown not in window.message.text()
    finally:
        for translator in translators:
            gui_app.removeTranslator(translator)
        QLocale.setDefault(QLocale(QLocale.Language.German, QLocale.Country.Germany))
