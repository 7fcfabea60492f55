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
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Mapping
from pathlib import Path

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


def redact(text: str) -> str:
    """``text`` with every registered sensitive value replaced."""
    with _lock:
        hits = [s for s in _sensitive if s in text]
    for value in sorted(hits, key=len, reverse=True):
        text = text.replace(value, REDACTED)
    return text


class _RedactingFormatter(logging.Formatter):
    """Redacts the whole formatted record: message, arguments and traceback."""

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


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
    log_dir.mkdir(parents=True, exist_ok=True)
    handler = _HomeLogHandler(
        target, maxBytes=max_bytes, backupCount=backups, encoding="utf-8", chmod=0o600,
    )
    handler.setFormatter(_RedactingFormatter(FORMAT))
    root.addHandler(handler)
    root.setLevel(min(level, root.level) if root.handlers[:-1] else level)
    for noisy in QUIET_LOGGERS:
        logging.getLogger(noisy).setLevel(logging.WARNING)
