"""One log file per home, written safely by every process of that home.

The GUI, the agent and each command-line call of one home append to the same
``logs/practice-client.log``. ``concurrent-log-handler`` serialises the writers
through a lock file and rotates (5 x 2 MiB) under that lock, so no line is lost
or torn when another process rotates; on Windows it closes the file after every
write, because Windows cannot rename a file another process holds open. Every
line names its process id, so a support case can tell GUI, agent and CLI apart.

The rule (tested): identifiers at DEBUG, never patient data or secrets. Code logs
request ids, document ids, fingerprints and states - never names, phone numbers,
file names or key material. The redacting formatter is a second line of defence
for values the process knows are sensitive (registered at run time), not the
first; it covers tracebacks too.

Debug logging (:func:`debug_requested`): the ``debug_logging`` setting, the
``--debug`` option or ``PRACTICE_CLIENT_DEBUG=1``; an administrator who locks the
setting in the policy decides alone.

Exceptions are the other way patient data reaches a log: the text of an ``OSError``
names the file (``[Errno 13] Permission denied: '.../Mustermann_Erika_Befund.pdf'``)
and our own errors name the file they refuse. So the log file never holds an
exception's text: an exception passed as an argument is written as its type and errno,
and a traceback (``log.exception``) as its frames (file, line, function) and, for each
exception in the chain, its type and errno.
"""

from __future__ import annotations

import logging
import os
import threading
import traceback
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType

from concurrent_log_handler import ConcurrentRotatingFileHandler

LOG_NAME = "practice-client.log"
MAX_BYTES = 2 * 1024 * 1024
BACKUPS = 5
DEBUG_ENV = "PRACTICE_CLIENT_DEBUG"
FORMAT = "%(asctime)s %(levelname)s pid=%(process)d %(name)s [%(threadName)s] %(message)s"
REDACTED = "[redacted]"
# Libraries that log at DEBUG what we must not keep (imapclient: the IMAP conversation)
# or so much that the rotation would drop the client's own lines.
QUIET_LOGGERS = ("gnupg", "urllib3", "watchdog", "asyncio", "imapclient", "portalocker")

_sensitive: set[str] = set()
_lock = threading.Lock()


def register_sensitive(*values: str | None) -> None:
    """Values that must never appear in a log line (tokens, passphrases, patient fields)."""
    with _lock:
        _sensitive.update(v for v in values if v and len(v) >= 4)


def sensitive_values() -> frozenset[str]:
    """What this process registered (the diagnostics export redacts these too)."""
    with _lock:
        return frozenset(_sensitive)


def describe(exc: BaseException) -> str:
    """An exception as identifiers only: its type and, for OS errors, the errno."""
    kind = type(exc)
    name = kind.__qualname__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__qualname__}"
    errno = getattr(exc, "errno", None)
    return f"{name} [errno {errno}]" if isinstance(errno, int) else name


def _chain(exc: BaseException | None) -> list[BaseException]:
    """The exception and those it was raised from or during, oldest first."""
    chain: list[BaseException] = []
    while exc is not None and all(exc is not seen for seen in chain):
        chain.append(exc)
        exc = exc.__cause__ or (None if exc.__suppress_context__ else exc.__context__)
    return chain[::-1]


class _SafeFormatter(logging.Formatter):
    """Tracebacks without exception texts (see the module docstring), and the whole
    formatted line redacted - message, arguments and traceback."""

    def formatException(
        self, ei: tuple[type[BaseException], BaseException, TracebackType | None] | tuple[None, None, None]
    ) -> str:
        lines: list[str] = []
        for exc in _chain(ei[1]):
            lines.append("Traceback (most recent call last):")
            lines += [f'  File "{f.filename}", line {f.lineno}, in {f.name}'
                      for f in traceback.extract_tb(exc.__traceback__)]
            lines.append(describe(exc))
        return "\n".join(lines)

    def format(self, record: logging.LogRecord) -> str:
        # Never the text another handler may have cached on the record, and cache none.
        cached = record.exc_text
        record.exc_text = self.formatException(record.exc_info) if record.exc_info else None
        try:
            return redact(super().format(record))
        finally:
            record.exc_text = cached


class _ExceptionsAsIdentifiers(logging.Filter):
    """An exception passed as an argument is logged as its type and errno."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and any(isinstance(a, BaseException) for a in record.args):
            record.args = tuple(describe(a) if isinstance(a, BaseException) else a for a in record.args)
        elif isinstance(record.args, dict) and any(isinstance(a, BaseException) for a in record.args.values()):
            record.args = {k: describe(a) if isinstance(a, BaseException) else a for k, a in record.args.items()}
        if isinstance(record.msg, BaseException):
            record.msg = describe(record.msg)
        return True


def redact(text: str) -> str:
    """``text`` with every registered sensitive value replaced."""
    with _lock:
        hits = [s for s in _sensitive if s in text]
    for value in sorted(hits, key=len, reverse=True):
        text = text.replace(value, REDACTED)
    return text


class _HomeLogHandler(ConcurrentRotatingFileHandler):
    """The home's log. A line that cannot be written (disk full, the folder removed) is
    dropped without a word: logging's default prints a traceback to stderr, where only
    the command's one-line error belongs."""

    def handleError(self, record: logging.LogRecord) -> None:  # noqa: N802 - logging's name
        return


def log_file(log_dir: Path) -> Path:
    return log_dir / LOG_NAME


def debug_requested(setting: bool, locked: bool, environ: Mapping[str, str] | None = None) -> bool:
    """Debug on when the setting, ``--debug`` or the environment asks for it - unless the
    administrator's policy locks the setting: then its value stands."""
    if locked:
        return setting
    value = (os.environ if environ is None else environ).get(DEBUG_ENV, "")
    return setting or value.strip().lower() in {"1", "true", "yes", "on"}


def setup_logging(log_dir: Path, *, debug: bool = False, max_bytes: int = MAX_BYTES,
                  backups: int = BACKUPS) -> None:
    """The shared rotating log of the home at INFO (DEBUG when ``debug``); idempotent
    per process, except that a later call may switch debug on."""
    root = logging.getLogger()
    level = logging.DEBUG if debug else logging.INFO
    target = os.path.abspath(log_file(log_dir))
    for existing in [h for h in root.handlers if isinstance(h, _HomeLogHandler)]:
        if existing.baseFilename == target:
            if debug:
                root.setLevel(logging.DEBUG)
            return
        # another home opened in this process (a test, a command run in-process): its
        # log moves with it - the handler reopens its lock file on every write, so one
        # left pointing at a removed home would fail on every line
        root.removeHandler(existing)
        existing.close()
    handler = file_handler(log_dir, max_bytes=max_bytes, backups=backups)
    root.addHandler(handler)
    root.setLevel(min(level, root.level) if root.handlers[:-1] else level)
    for noisy in QUIET_LOGGERS:
        logging.getLogger(noisy).setLevel(logging.WARNING)


def file_handler(log_dir: Path, *, max_bytes: int = MAX_BYTES, backups: int = BACKUPS) -> logging.Handler:
    """The home's log file (shared by its processes, rotated) with its rules: identifiers
    only - exceptions as type and errno, registered sensitive values redacted."""
    log_dir.mkdir(parents=True, exist_ok=True)
    handler = _HomeLogHandler(
        os.path.abspath(log_file(log_dir)), maxBytes=max_bytes, backupCount=backups, encoding="utf-8",
        chmod=0o600,
    )
    handler.setFormatter(_SafeFormatter(FORMAT))
    handler.addFilter(_ExceptionsAsIdentifiers())
    return handler
