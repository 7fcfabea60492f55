"""Request e-mails as files: saved or dragged from Thunderbird (``.eml``) or Outlook (``.msg``).

``request verify``, ``request import``, the ``.eml`` folder source and the GUI's
drop all read a file with :func:`read_mail_file` and record it with
:func:`import_mail_files`, so each is verified exactly like a message from the
mailbox. A workstation of the practice service reads the file's bytes
(:func:`read_mail_bytes`) and the service records them with :func:`import_mail_data`:
the same messages, the same checks.

An ``.eml`` is the message as it was received, byte for byte: every check runs,
DKIM included.

An Outlook ``.msg`` is not the message. Outlook keeps the transport headers, the
decoded text and each attachment's bytes (so ``request.json`` and its signature
are exact: the patient's consent signature is checked as usual), but not the
MIME body the platform signed - boundaries, part headers and transfer encodings
are gone. DKIM cannot be checked honestly on a reconstruction, so it is never
attempted: the ``dkim`` check says so (a warning), and such a request is at best
*needs review* - never *verified* - until staff decide (or the mail is saved as
``.eml`` / fetched from the mailbox). That rests on the source the client itself
records (``<source>.msg``), never on anything inside the file.
"""

from __future__ import annotations

import hashlib
import logging
import os
import stat
from collections.abc import Callable
from dataclasses import dataclass
from email.message import EmailMessage
from email.policy import SMTP
from pathlib import Path
from typing import Any

from practice_client.core.errors import InputError, cannot_read
from practice_client.core.files import open_regular
from practice_client.core.store import MAX_MESSAGE_BYTES
from practice_client.core.text import Text

# store one raw message durably and verify it; the number of new requests (the sources'
# Deliver, written out: the sources read mail files, so this module must not import them)
Deliver = Callable[[bytes, str], int]

log = logging.getLogger(__name__)

MAX_FILE_BYTES = 4 * MAX_MESSAGE_BYTES  # a .msg is larger than the message it holds
SUFFIXES = (".eml", ".msg")
RECONSTRUCTED = ".msg"  # appended to the source of a message rebuilt from an Outlook file
_KEPT_HEADERS = ("From", "To", "Cc", "Subject", "Date", "Message-ID")
_PART_TYPES = {"request.json": ("application", "json"), "request.json.sig": ("application", "pgp-signature")}


@dataclass(frozen=True)
class MailFile:
    """A request e-mail read from a file."""

    raw: bytes  # the message (an .eml as is; a .msg rebuilt as MIME)
    reconstructed: bool  # True: from an Outlook .msg - DKIM cannot be checked

    def source(self, base: str) -> str:
        """The source to record: ``base``, marked when the message was rebuilt."""
        return base + RECONSTRUCTED if self.reconstructed else base


TOO_LARGE = Text("zu groß für eine Anfrage", "too large for a request message")
UNREADABLE_MSG = Text("keine lesbare Outlook-Nachricht", "not a readable Outlook message (.msg)")


def is_mail_file(path: Path) -> bool:
    return path.suffix.lower() in SUFFIXES and not path.name.startswith(".")


def is_reconstructed(source: str) -> bool:
    """Whether a stored message's (client-recorded) source says it was rebuilt from a .msg."""
    return source.endswith(RECONSTRUCTED)


def read_mail_file(path: Path) -> MailFile:
    """Read a request e-mail: an Outlook ``.msg``, or any other file as the raw message
    (``.eml``); InputError (one line, naming the file) when it cannot be read."""
    return mail_from_bytes(path, read_mail_bytes(path))


def read_mail_bytes(path: Path) -> bytes:
    """The bytes of a request e-mail file, as they are (a workstation sends them to the
    practice service, which makes the message of them); InputError naming the file when
    it cannot be read. Only a regular file is read (no link followed, no FIFO), never
    beyond :data:`MAX_FILE_BYTES`."""
    try:
        info = os.lstat(path)
        if not stat.S_ISREG(info.st_mode):
            raise InputError(path, Text("keine Datei", "not a regular file"))
        if info.st_size > MAX_FILE_BYTES:
            raise InputError(path, TOO_LARGE)
        with open_regular(path) as handle:
            data = handle.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise cannot_read(path, exc) from None
    if len(data) > MAX_FILE_BYTES:
        raise InputError(path, TOO_LARGE)
    return data


def mail_from_bytes(path: Path, data: bytes) -> MailFile:
    """The message in a file's bytes, by the file's kind (InputError naming the file for
    an unreadable .msg, or bytes over the limit)."""
    if len(data) > MAX_FILE_BYTES:
        raise InputError(path, TOO_LARGE)
    if path.suffix.lower() == ".msg":
        return MailFile(outlook_to_mime(data, path), reconstructed=True)
    return MailFile(data, reconstructed=False)


def outlook_to_mime(data: bytes, path: Path) -> bytes:
    """The message an Outlook ``.msg`` still holds, as MIME: the transport headers that
    identify it, the text, and every attachment with its exact bytes (in order)."""
    import extract_msg
    from extract_msg.enums import ErrorBehavior

    try:
        # OLE_DEFECT_INCORRECT: files written by other programs than Outlook (web mailers'
        # exports) have harmless defects; a broken file still fails below.
        msg: Any = extract_msg.openMsg(data, errorBehavior=ErrorBehavior.OLE_DEFECT_INCORRECT)
    except Exception:  # noqa: BLE001 - hostile or damaged files: one line, never a traceback
        raise InputError(path, UNREADABLE_MSG) from None
    try:
        # the same file always gives the same bytes (one stored message, never a "replay")
        return _rebuild(msg, boundary="msg-" + hashlib.sha256(data).hexdigest()[:40])
    except Exception:  # noqa: BLE001
        raise InputError(path, UNREADABLE_MSG) from None
    finally:
        msg.close()


def _rebuild(msg: Any, boundary: str) -> bytes:
    if type(msg).__name__ != "Message":
        raise ValueError("not an e-mail")  # an appointment, contact, task ...
    rebuilt = EmailMessage(policy=SMTP)
    transport = msg.header
    for name in _KEPT_HEADERS:
        values = transport.get_all(name) if transport is not None else None
        for value in values or ():
            rebuilt[name] = " ".join(str(value).split())
    if "From" not in rebuilt and msg.sender:
        rebuilt["From"] = str(msg.sender)
    if "Subject" not in rebuilt and msg.subject:
        rebuilt["Subject"] = str(msg.subject)
    rebuilt.set_content(str(msg.body or ""), charset="utf-8")
    for attachment in msg.attachments:
        name = str(attachment.longFilename or attachment.shortFilename or "attachment")
        payload = attachment.data if isinstance(attachment.data, bytes) else b""
        maintype, subtype = _PART_TYPES.get(name, ("application", "octet-stream"))
        rebuilt.add_attachment(payload, maintype=maintype, subtype=subtype, filename=name)
    rebuilt.set_boundary(boundary)
    return rebuilt.as_bytes()


def import_mail_files(deliver: Deliver, paths: list[Path], source: str = "import") -> int:
    """Record request e-mail files like received messages (stored, then verified); returns
    the number of new requests. Every file is read first, so one unreadable file records
    nothing. The desktop app's drop and ``request import`` use this."""
    return sum(_record_all(deliver, [read_mail_file(path) for path in paths], source))


def import_mail_data(deliver: Deliver, files: list[tuple[Path, bytes]], source: str = "import") -> list[int]:
    """:func:`import_mail_files` for files read elsewhere (a workstation sent their bytes to
    the practice service; ``files``: each one's name and bytes): every one is made a
    message first, so one unreadable file records nothing. The new requests of each."""
    return _record_all(deliver, [mail_from_bytes(name, data) for name, data in files], source)


def _record_all(deliver: Deliver, mails: list[MailFile], source: str) -> list[int]:
    return [deliver(mail.raw, mail.source(source)) for mail in mails]
