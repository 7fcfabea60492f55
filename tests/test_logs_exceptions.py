"""Exception texts never reach the log file: an OSError on a patient-named export file
carries the file's name (and so the patient's), and so do our own errors refusing a
file. The log keeps what identifies the problem - exception type, errno, the frames,
the document id the code logged - and nothing else."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from practice_client.core.errors import InputError
from practice_client.core.logs import file_handler

PATIENT_FILE = "Mustermann_Erika_1964-08-12_Befund.pdf"


@pytest.fixture
def log_file(tmp_path: Path) -> Iterator[Path]:
    handler = file_handler(tmp_path / "logs")
    logger = logging.getLogger("practice_client.test_exceptions")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    yield tmp_path / "logs" / "practice-client.log"
    logger.removeHandler(handler)
    handler.close()


def test_a_patient_named_file_that_fails_leaves_only_identifiers_in_the_log(
        tmp_path: Path, log_file: Path) -> None:
    log = logging.getLogger("practice_client.test_exceptions")
    export = tmp_path / "export"
    export.mkdir()
    (export / PATIENT_FILE).write_bytes(b"%PDF")
    try:  # a real failing system call on the patient's file: linking it into a missing folder
        os.link(export / PATIENT_FILE, tmp_path / "no-such-spool" / "original")
    except OSError as exc:
        failure = exc
        log.exception("document %s: unexpected error", "doc-4711")
        log.warning("document %s: could not take it: %s", "doc-4711", exc)
        log.error(exc)
    assert PATIENT_FILE in str(failure)  # the text would have leaked it
    try:
        try:
            open(export / PATIENT_FILE / "x")  # noqa: SIM115 - fails: NotADirectoryError
        except OSError as exc:
            raise InputError(export / PATIENT_FILE, "cannot be read") from exc
    except InputError as exc:
        log.exception("job failed")
        log.info("intake source %s: %s", "FolderSource", exc)
        log.info("with a mapping: %(error)s", {"error": exc})

    text = log_file.read_text(encoding="utf-8")
    assert "Mustermann" not in text and "Erika" not in text and str(export) not in text
    assert "document doc-4711: unexpected error" in text
    assert "FileNotFoundError [errno 2]" in text
    assert "NotADirectoryError [errno 20]" in text
    assert "practice_client.core.errors.InputError" in text
    assert "Traceback (most recent call last):" in text and "in test_a_patient_named_file" in text


def test_another_handler_formatting_first_cannot_make_the_file_log_leak(log_file: Path) -> None:
    log = logging.getLogger("practice_client.test_exceptions")
    seen: list[str] = []

    class Plain(logging.Handler):  # e.g. a console handler with the standard formatter
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(logging.Formatter().format(record))

    plain = Plain()
    log.handlers.insert(0, plain)
    try:
        try:
            os.stat(f"/nonexistent/{PATIENT_FILE}")
        except OSError:
            log.exception("stat failed")
    finally:
        log.removeHandler(plain)
    assert PATIENT_FILE in seen[0]  # the standard text, cached on the record ...
    assert PATIENT_FILE not in log_file.read_text(encoding="utf-8")  # ... is not what the file gets
