"""Logging to a rotating file in the home.

The rule (tested): identifiers at DEBUG, never patient data or secrets. Code logs
request ids, document ids, fingerprints and states - never names, phone numbers,
file names or key material. The redacting filter is a second line of defence for
values the process knows are sensitive (registered at run time), not the first.
"""

from __future__ import annotations

import logging
import logging.handlers
import threading
from pathlib import Path

_sensitive: set[str] = set()
_lock = threading.Lock()


def register_sensitive(*values: str | None) -> None:
    """Values that must never appear in a log line (tokens, passphrases, patient fields)."""
    with _lock:
        _sensitive.update(v for v in values if v and len(v) >= 4)


class _Redactor(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        with _lock:
            hits = [s for s in _sensitive if s in message]
        if hits:
            for value in hits:
                message = message.replace(value, "[redacted]")
            record.msg, record.args = message, None
        return True


def setup_logging(log_dir: Path, level: int = logging.INFO) -> None:
    """Rotating file log (5 x 2 MiB) plus warnings on stderr; idempotent."""
    root = logging.getLogger()
    if any(getattr(h, "_practice_client", False) for h in root.handlers):
        return
    log_dir.mkdir(parents=True, exist_ok=True)
    handler = logging.handlers.RotatingFileHandler(
        log_dir / "practice-client.log", maxBytes=2 * 1024 * 1024, backupCount=5, encoding="utf-8"
    )
    handler.setFormatter(
        logging.Formatter("%(asctime)s %(levelname)s %(name)s [%(threadName)s] %(message)s")
    )
    handler.addFilter(_Redactor())
    handler._practice_client = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(min(level, root.level) if root.handlers[:-1] else level)
    for noisy in ("gnupg", "urllib3", "watchdog", "asyncio", "imapclient"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
