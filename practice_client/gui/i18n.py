"""Languages: German by default, English on request, through Qt's translation system.

Source strings in the code are English (Qt's convention); the German texts live
in ``resources/translations/practice_client_de.ts`` (compiled to ``.qm`` with
lrelease). Qt's own dialog buttons are translated by the ``qtbase`` catalogue
that ships with Qt.
"""

from __future__ import annotations

import logging

from PySide6.QtCore import QCoreApplication, QLibraryInfo, QLocale, QTranslator

from practice_client.gui.resources import resources_dir

log = logging.getLogger(__name__)

LANGUAGES = ("de", "en")
DEFAULT_LANGUAGE = "de"


def current_language() -> str:
    """The language the GUI runs in: the one :func:`install_translators` set as the
    default locale (German unless it is English). Texts of the layers below (a
    :class:`~practice_client.core.text.Text`) are shown as ``text.pick(current_language())``,
    so an English window shows English only. Safe from worker threads (reads the default)."""
    return "en" if QLocale().language() == QLocale.Language.English else "de"


def catalogue(language: str) -> str:
    return str(resources_dir() / "translations" / f"practice_client_{language}.qm")


def install_translators(app: QCoreApplication, language: str) -> list[QTranslator]:
    """Load our catalogue and Qt's for ``language``; returns them (keep them alive).

    English needs no catalogue of ours (the sources are English)."""
    language = language if language in LANGUAGES else DEFAULT_LANGUAGE
    QLocale.setDefault(QLocale(QLocale.Language.German if language == "de" else QLocale.Language.English,
                               QLocale.Country.Germany if language == "de" else QLocale.Country.UnitedKingdom))
    installed: list[QTranslator] = []
    qt_dir = QLibraryInfo.path(QLibraryInfo.LibraryPath.TranslationsPath)
    sources = [(f"qtbase_{language}", qt_dir)]
    if language != "en":
        sources.append((catalogue(language), ""))
    for name, folder in sources:
        translator = QTranslator(app)
        if translator.load(name, folder) if folder else translator.load(name):
            app.installTranslator(translator)
            installed.append(translator)
        else:
            log.warning("translation catalogue %s for %s not found", name, language)
    return installed
