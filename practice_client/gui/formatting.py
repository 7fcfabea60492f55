"""Dates, sizes and fingerprints the way staff read them (locale from i18n)."""

from __future__ import annotations

from PySide6.QtCore import QDate, QDateTime, QLocale, Qt


def language() -> str:
    """The GUI's language (``de`` or ``en``), for texts the domain keeps in both."""
    return "de" if QLocale().language() == QLocale.Language.German else "en"


def date_text(iso_date: str) -> str:
    """``1964-08-12`` -> ``12.08.1964`` (German) / ``12/08/1964`` (English)."""
    date = QDate.fromString(iso_date[:10], Qt.DateFormat.ISODate)
    if not date.isValid():
        return iso_date
    return QLocale().toString(date, "dd.MM.yyyy" if QLocale().language() == QLocale.Language.German else "dd/MM/yyyy")


def datetime_text(iso_time: str) -> str:
    """An ISO UTC timestamp in local time, minutes precision."""
    moment = QDateTime.fromString(iso_time.replace("Z", "+00:00")[:19] + "Z", Qt.DateFormat.ISODate)
    if not moment.isValid():
        moment = QDateTime.fromString(iso_time, Qt.DateFormat.ISODateWithMs)
    if not moment.isValid():
        return iso_time
    local = moment.toLocalTime()
    return f"{date_text(local.date().toString(Qt.DateFormat.ISODate))} {local.time().toString('HH:mm')}"


def short_datetime_text(iso_time: str) -> str:
    """Like :func:`datetime_text`, without the year when it is the current one (list columns)."""
    full = datetime_text(iso_time)
    year = str(QDate.currentDate().year())
    return full.replace(f".{year} ", ". ").replace(f"/{year} ", " ") if full != iso_time else full


def period_text(start: str, end: str) -> str:
    if not start and not end:
        return ""
    return f"{date_text(start)} – {date_text(end)}"


def month_text(iso_date: str) -> str:
    """``2025-01-31`` -> ``01.2025``: compact, for list columns (the detail shows full dates)."""
    date = QDate.fromString(iso_date[:10], Qt.DateFormat.ISODate)
    if not date.isValid():
        return iso_date
    return date.toString("MM.yyyy" if QLocale().language() == QLocale.Language.German else "MM/yyyy")


def short_period_text(start: str, end: str) -> str:
    if not start and not end:
        return ""
    return f"{month_text(start)}–{month_text(end)}"


def size_text(size: int) -> str:
    return QLocale().formattedDataSize(size, 1, QLocale.DataSizeFormat.DataSizeSIFormat)


def fingerprint_groups(fingerprint: str) -> list[str]:
    """40 hex digits in groups of four, the way staff read them aloud."""
    clean = "".join(fingerprint.split()).upper()
    return [clean[i : i + 4] for i in range(0, len(clean), 4)]


def fill(template: str, *values: object) -> str:
    """Qt-style placeholders ``%1``, ``%2`` … (translations may reorder them)."""
    for number in range(len(values), 0, -1):  # %10 before %1
        template = template.replace(f"%{number}", str(values[number - 1]))
    return template
