"""Logging to a rotating file in the home.

The rule (tested): identifiers at DEBUG, never patient data or secrets. Code logs
request ids, document ids, fingerprints and states - never names, phone numbers,
file names or key material. The redacting filter is a second line of defence for
values the process knows are sensitive (registered at run time), not the first.

Exceptions are the other way patient data reaches a log: the text of an ``OSError``
names the file (``[Errno 13] Permission denied: '.../Mustermann_Erika_Befund.pdf'``)
and our own errors name the file they refuse. So the log file never holds an
exception's text: an exception passed as an argument is written as its type and errno,
and a traceback (``log.exception``) as its frames (file, line, function) and, for each
exception in the chain, its type and errno.
"""

from __future__ import annotations

import logging
import logging.handlers
import threading
import traceback
from pathlib import Path
from types import TracebackType

_sensitive: set[str] = set()
_lock = threading.Lock()


def register_sensitive(*values: str | None) -> None:
    """Values that must never appear in a log line (tokens, passphrases, patient fields)."""
    with _lock:
        _sensitive.update(v for v in values if v and len(v) >= 4)


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


class _IdentifiersOnly(logging.Formatter):
    """Tracebacks without exception texts (see the module docstring)."""

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
            return super().format(record)
        finally:
            record.exc_text = cached


class _Redactor(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and any(isinstance(a, BaseException) for a in record.args):
            record.args = tuple(describe(a) if isinstance(a, BaseException) else a for a in record.args)
        elif isinstance(record.args, dict) and any(isinstance(a, BaseException) for a in record.args.values()):
            record.args = {k: describe(a) if isinstance(a, BaseException) else a for k, a in record.args.items()}
        if isinstance(record.msg, BaseException):
            record.msg = describe(record.msg)
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
    handler = file_handler(log_dir)
    handler._practice_client = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(min(level, root.level) if root.handlers[:-1] else level)
    for noisy in ("gnupg", "urllib3", "watchdog", "asyncio"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def file_handler(log_dir: Path) -> logging.Handler:
    """The rotating log file (5 x 2 MiB) with its redaction: identifiers only."""
    log_dir.mkdir(parents=True, exist_ok=True)
    handler = logging.handlers.RotatingFileHandler(
        log_dir / "practice-client.log", maxBytes=2 * 1024 * 1024, backupCount=5, encoding="utf-8"
    )
    handler.setFormatter(_IdentifiersOnly("%(asctime)s %(levelname)s %(name)s [%(threadName)s] %(message)s"))
    handler.addFilter(_Redactor())
    return handler
