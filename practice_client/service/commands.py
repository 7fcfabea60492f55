"""Staff actions as commands the service validates and applies once.

Each command is a name, the role it needs, and a handler over the service's
:class:`Runtime`. The handlers call the same domain functions as the command line
(intake.decisions, delivery through the agent, crypto.trust, shares.actions, the store),
which check the rules and write through the store; the service adds only what a network
needs:

- arguments are checked by type and size before anything runs (:class:`Args`);
- commands run one at a time (a request cannot be accepted at reception and declined in
  the consulting room in the same instant);
- each runs inside :func:`~practice_client.core.acting.acting`: every audit entry names the
  workstation and the OS user, and the command's first change records its idempotency key
  in the same transaction. A retry with the key gets the recorded answer; a key reused
  for other arguments is refused. A command the rules refuse is recorded as refused.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import logging
import re
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from practice_client.core.acting import Acting, Actor, acting, current
from practice_client.core.errors import InputError, NotConfigured, PracticeClientError, StateError
from practice_client.core.patients import master_data
from practice_client.core.store import StoredCommand
from practice_client.core.text import Text
from practice_client.service.staging import Staging
from practice_client.service.wire import from_wire, to_wire

if TYPE_CHECKING:
    from practice_client.context import Context
    from practice_client.core.models import Share
    from practice_client.service.agent import Agent
    from practice_client.shares.actions import Actor as ShareActor

log = logging.getLogger(__name__)

MAX_TEXT = 4000
MAX_FILE_BYTES = 64 * 1024 * 1024


class Refused(StateError):
    """A command that cannot be applied (its arguments, the role, a reused key)."""


class Args:
    """A command's JSON arguments, read by type and size (``what`` names them in errors)."""

    def __init__(self, data: Any, what: str) -> None:
        if not isinstance(data, dict):
            raise InputError(what, "the arguments must be a JSON object")
        self._data, self._what = data, what

    def text(self, name: str, default: str | None = None, limit: int = MAX_TEXT) -> str:
        value = self._data.get(name, default)
        if not isinstance(value, str) or len(value) > limit:
            raise InputError(self._what, f"{name}: text of at most {limit} characters required")
        return value

    def flag(self, name: str) -> bool:
        value = self._data.get(name, False)
        if not isinstance(value, bool):
            raise InputError(self._what, f"{name}: true or false required")
        return value

    def blob(self, name: str) -> bytes:
        text = self.text(name, limit=MAX_FILE_BYTES * 4 // 3 + 4)
        try:
            return base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            raise InputError(self._what, f"{name}: base64 required") from None

    def items(self, name: str, limit: int) -> list[Args]:
        """A list of at most ``limit`` objects, each read as arguments of its own."""
        value = self._data.get(name)
        if not isinstance(value, list) or not 0 < len(value) <= limit:
            raise InputError(self._what, f"{name}: a list of 1 to {limit} entries required")
        return [Args(item, f"{self._what}: {name}") for item in value]

    def mapping(self, name: str) -> dict[str, Any]:
        value = self._data.get(name)
        if not isinstance(value, dict):
            raise InputError(self._what, f"{name}: an object required")
        return value


@dataclass
class Runtime:
    """What the commands act on: the service's context and its agent (None until the
    practice is set up, or while it is stopped for an adoption)."""

    ctx: Context
    agent: Agent | None = None
    start_agent: Callable[[], None] = lambda: None

    @property
    def staging(self) -> Staging:
        """The files workstations uploaded for ``files.add`` (``PUT /v1/staged/<id>``)."""
        return Staging.of(self.ctx.home)

    def require_agent(self) -> Agent:
        if self.agent is None:
            raise NotConfigured("the practice service is not set up yet (admin: setup or adopt a home)")
        return self.agent


Handler = Callable[[Runtime, Args], Any]


@dataclass(frozen=True)
class Command:
    name: str
    handler: Handler
    admin: bool = False
    changes: bool = True  # False: a query (no idempotency key, nothing recorded)


MAX_FILES = 100  # files in one files.add or mails.import


def _file_name(args: Args) -> Path:
    """The base name of the file a workstation read (its folders, of either OS, cut off)."""
    return Path(re.split(r"[/\\]", args.text("name", "upload", limit=255))[-1] or "upload")


def _accept(rt: Runtime, a: Args) -> Any:
    from practice_client.intake import decisions

    record = decisions.accept(rt.ctx, a.text("request_id", limit=64), override=a.flag("override"),
                              reason=a.text("reason", "") or None)
    rt.require_agent().poll_now()  # the decision goes to the platform without waiting
    return {"request_id": record.request_id, "status": str(record.status)}


def _decline(rt: Runtime, a: Args) -> Any:
    from practice_client.intake import decisions

    record = decisions.decline(rt.ctx, a.text("request_id", limit=64), reason=a.text("reason", ""))
    rt.require_agent().poll_now()
    return {"request_id": record.request_id, "status": str(record.status)}


def _document(doc: Any) -> dict[str, str]:
    return {"document_id": doc.document_id, "state": str(doc.state)}


def _assign(rt: Runtime, a: Args) -> Any:
    return _document(rt.require_agent().assign(a.text("document_id", limit=64), a.text("request_id", limit=64),
                                               a.text("birth_date", limit=10)))


def _retry(rt: Runtime, a: Args) -> Any:
    return _document(rt.require_agent().retry(a.text("document_id", limit=64)))


def _release(rt: Runtime, a: Args) -> Any:
    return _document(rt.require_agent().release(a.text("document_id", limit=64), a.text("fingerprint", limit=40)))


def _withhold(rt: Runtime, a: Args) -> Any:
    return _document(rt.require_agent().withhold(a.text("document_id", limit=64)))


def _share_actor() -> ShareActor:
    """The shares domain's actor for the command in progress: the workstation's user, with
    the role its pairing gave (the domain, not the service, decides what that role may do)."""
    from practice_client.shares import actions

    command = current()
    assert command is not None  # the dispatcher runs every changing command while acting
    who = command.actor
    return actions.Actor(f"{who.os_user}@{who.workstation}", actions.ADMIN if who.role == "admin" else actions.STAFF)


def _share(share: Share) -> dict[str, str]:
    return {"share_id": share.share_id, "state": str(share.state)}


def _share_release(rt: Runtime, a: Args) -> Any:
    from practice_client.shares import actions

    share = actions.release(rt.ctx, a.text("share_id", limit=64), _share_actor(), a.text("reason"),
                            a.text("patient_number", "", limit=64) or None, a.text("birth_date", "", limit=10) or None)
    rt.require_agent().poll_now()  # the shares job takes it on at once
    return _share(share)


def _share_discard(rt: Runtime, a: Args) -> Any:
    from practice_client.shares import actions

    share = actions.discard(rt.ctx, a.text("share_id", limit=64), _share_actor(), a.text("reason"))
    rt.require_agent().poll_now()  # the receipt ("refused") goes to the platform soon
    return _share(share)


def _files_add(rt: Runtime, a: Args) -> Any:
    """Files a workstation uploaded (staged) go to an accepted request as the local "add
    files" does (outbox.add_files: the same checks, all before anything is copied, the
    documents named by the names staff picked). The uploads are used once: removed
    whatever the outcome (a refused add is sent again with new uploads)."""
    command = current()
    assert command is not None
    request_id = a.text("request_id", limit=64)
    files = [(item.text("staged_id", limit=64), _file_name(item).name) for item in a.items("files", MAX_FILES)]
    staging, claimed = rt.staging, []
    try:
        for staged_id, name in files:
            claimed.append(staging.claim(command.actor.workstation_id, staged_id, name))
        docs = rt.require_agent().add_files(claimed, request_id, [name for _id, name in files])
    finally:
        for path in claimed:
            staging.discard(path)
    return {"request_id": request_id, "documents": [_document(doc) for doc in docs]}


def _mails_import(rt: Runtime, a: Args) -> Any:
    """Request e-mail files a workstation read: recorded and verified as the local import
    does (intake.mail_file: all of them made messages first, so one unreadable file
    records none; then stored and checked like mail from the mailbox: DKIM, consent,
    phone ...). The new requests of each file."""
    from practice_client.intake.inbox import Inbox
    from practice_client.intake.mail_file import import_mail_data

    files = [(_file_name(item), item.blob("data")) for item in a.items("files", MAX_FILES)]
    counts = import_mail_data(Inbox(rt.ctx).receive, files)
    return {"files": [{"name": name.name, "new": count} for (name, _data), count in zip(files, counts, strict=True)],
            "new": sum(counts)}


def _certificate(rt: Runtime, a: Args) -> Any:
    from practice_client.crypto import trust

    return trust.verify_certificate(rt.ctx, _file_name(a), text=a.text("text", limit=256 * 1024))


def _inspect(rt: Runtime, a: Args) -> Any:
    from practice_client.crypto import trust

    cert = _certificate(rt, a)
    pinned = rt.ctx.store.get_pin(cert.fingerprint)
    try:
        suggested = trust.find_patient(rt.ctx, cert, None, _file_name(a)).patient_number
    except InputError:  # none or several match: staff choose
        suggested = ""
    candidates = [{"patient_number": p.patient_number, "name": p.name, "birth_date": p.birth_date}
                  for p in rt.ctx.store.patients_born_on(cert.birth_date)]
    return {"fingerprint": cert.fingerprint, "name": cert.name, "birth_date": cert.birth_date,
            "phone": cert.phone, "ident": cert.ident,
            "suggested_patient_number": pinned.patient_number if pinned else suggested,
            "already_pinned_for": pinned.patient_number if pinned else "", "candidates": candidates}


def _pin(rt: Runtime, a: Args) -> Any:
    from practice_client.crypto import trust

    cert = _certificate(rt, a)
    patient = trust.find_patient(rt.ctx, cert, a.text("patient_number", limit=64) or None, _file_name(a))
    pin = trust.pin_certificate(rt.ctx, cert, patient, replace=a.flag("replace"))
    return {"fingerprint": pin.fingerprint, "patient_number": pin.patient_number}


def _unpin(rt: Runtime, a: Args) -> Any:
    from practice_client.crypto import trust

    return {"fingerprint": trust.remove_pin(rt.ctx, a.text("fingerprint", limit=64)).fingerprint}


def _patients(rt: Runtime, a: Args) -> Any:
    master = master_data(_file_name(a), a.blob("data"))  # validated whole before anything is stored
    return {"count": rt.ctx.store.upsert_patients(master.patients, master.source)}


def _settings(rt: Runtime, a: Args) -> Any:
    changes = a.mapping("changes")
    rt.ctx.update_config(**changes)
    rt.ctx.store.record("settings.changed", keys=sorted(changes))
    return {"keys": sorted(changes)}


def _backup(rt: Runtime, a: Args) -> Any:
    from practice_client.crypto import backup

    with tempfile.TemporaryDirectory(dir=rt.ctx.home.root, prefix=".backup-") as folder:
        path = Path(folder) / "backup.pgp"
        fingerprint = backup.create_backup(rt.ctx, path, a.text("passphrase", limit=1024))
        data = path.read_bytes()
    return {"fingerprint": fingerprint, "backup": base64.b64encode(data).decode("ascii")}


def _setup(rt: Runtime, a: Args) -> Any:
    from practice_client.provision import SetupParams, provision

    with tempfile.TemporaryDirectory(dir=rt.ctx.home.root, prefix=".setup-") as folder:
        ident = Path(folder) / "ident-key.asc"
        ident.write_text(a.text("ident_key", limit=256 * 1024), encoding="utf-8")
        ca_text = a.text("ca", "", limit=256 * 1024)
        ca = Path(folder) / "platform-ca.pem" if ca_text else None
        if ca is not None:
            ca.write_text(ca_text, encoding="utf-8")
        export = a.text("export_dir", "", limit=1024)
        params = SetupParams(
            server_url=a.text("server_url", limit=1024), practice_id=a.text("practice_id", limit=64),
            platform_domain=a.text("platform_domain", limit=255), ident_key_file=ident,
            dns_server=a.text("dns_server", "", limit=300), ca_file=ca, export_dir=Path(export) if export else None,
            token=a.text("token", "", limit=4096) or None, offline=a.flag("offline"),
            practice_name=a.text("practice_name", "Arztpraxis", limit=200),
        )
        result = provision(rt.ctx, params)
    rt.start_agent()
    return {"practice_key": result.practice_key_fingerprint, "created": result.key_created,
            "registered": result.registered}


def _poll(rt: Runtime, a: Args) -> Any:
    rt.require_agent().poll_now()
    return {}


COMMANDS: dict[str, Command] = {c.name: c for c in (
    Command("accept", _accept), Command("decline", _decline),
    Command("assign", _assign), Command("retry", _retry),
    Command("release", _release), Command("withhold", _withhold),
    Command("trust.inspect", _inspect, changes=False), Command("trust.pin", _pin), Command("trust.remove", _unpin),
    Command("patients.import", _patients),
    Command("files.add", _files_add), Command("mails.import", _mails_import),
    # a release overrides a finding (malware included): the admin role, checked here and by the domain;
    # staff discard, as the domain lets them
    Command("share.release", _share_release, admin=True), Command("share.discard", _share_discard),
    Command("settings.save", _settings, admin=True), Command("key.backup", _backup, admin=True),
    Command("setup", _setup, admin=True),
    Command("poll", _poll, changes=False),
)}


@dataclass(frozen=True)
class Outcome:
    """What a workstation is told: ``applied`` (``result``) or ``refused`` (``error``);
    ``replayed``: answered from the record of an earlier attempt with the same key."""

    outcome: str
    result: Any = None
    error: Text | None = None
    replayed: bool = False

    def to_json(self) -> dict[str, Any]:
        """``error`` one line with both languages, ``text`` German and English apart."""
        return {"outcome": self.outcome, "result": self.result, "error": str(self.error or ""),
                "text": to_wire(self.error) if self.error else None, "replayed": self.replayed}


def _record(error: Text) -> dict[str, Any]:
    """A refusal as the command's record keeps it (both languages, for a replay)."""
    return {"error": str(error), "text": to_wire(error)}


def _recorded_error(result: Any) -> Text | None:
    if not isinstance(result, dict) or not result.get("error"):
        return None
    try:
        text = from_wire(Text, result.get("text"))
    except (ValueError, TypeError):  # recorded before texts had both languages apart
        return Text.same(str(result["error"]))
    return text if isinstance(text, Text) else Text.same(str(result["error"]))


def request_digest(name: str, args: Any) -> str:
    return hashlib.sha256(json.dumps({"command": name, "args": args}, sort_keys=True).encode()).hexdigest()


SETTLED = "settled"  # the command name of a key closed as not applied (:meth:`Dispatcher.settle`)


def _replay(stored: StoredCommand, actor: Actor, digest: str) -> Outcome:
    settled = stored.command == SETTLED and stored.workstation_id == actor.workstation_id
    if not settled and (stored.workstation_id != actor.workstation_id or stored.request_sha256 != digest):
        raise Refused(Text(
            "dieser Idempotenz-Schlüssel gehört zu einem anderen Befehl: für eine neue Aktion einen neuen senden",
            "this idempotency key belongs to another command: send a new key for a new action"))
    if stored.outcome == "applied":
        return Outcome("applied", stored.result, replayed=True)
    return Outcome("refused", error=_recorded_error(stored.result), replayed=True)


class Dispatcher:
    """Runs commands one at a time, each at most once per idempotency key."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self._lock = threading.Lock()

    def settle(self, key: str, actor: Actor) -> Outcome:
        """A workstation gave up waiting for the answer to ``key``: the recorded outcome if
        the command was applied (or refused), else the key is closed as not applied - a late
        copy of the command is then refused, so "not applied" stays true."""
        store = self.runtime.ctx.store
        with self._lock:
            stored = store.stored_command(key)
            if stored is not None:
                if stored.workstation_id != actor.workstation_id:
                    raise Refused(Text("dieser Idempotenz-Schlüssel gehört zu einem anderen Arbeitsplatz",
                                       "this idempotency key belongs to another workstation"))
                return _replay(stored, actor, stored.request_sha256)
            closed = Acting(actor, key, SETTLED, "")
            message = Text("nicht ausgeführt: der Arbeitsplatz hat aufgehört, auf den Praxis-Dienst zu warten",
                           "not applied: the workstation stopped waiting for the practice service")
            store.finish_command(closed, "refused", _record(message))
        return Outcome("refused", error=message)

    def run(self, name: str, args: Any, actor: Actor, key: str | None) -> Outcome:
        """MUST run in a worker thread (database, gpg, files). :class:`Refused` for a
        command this actor may not run or a missing/reused key; the rules' refusals are
        an :class:`Outcome` (recorded)."""
        command = COMMANDS.get(name)
        if command is None:
            raise Refused(Text(f"{name[:40]}: diesen Befehl gibt es nicht", f"{name[:40]}: no such command"))
        if command.admin and actor.role != "admin":
            raise Refused(Text(f"{name}: das darf nur ein Admin-Arbeitsplatz",
                               f"{name}: only an admin workstation may do this"))
        if not command.changes:
            with self._lock:
                return Outcome("applied", command.handler(self.runtime, Args(args, name)))
        if not key or len(key) > 100:
            raise Refused(Text("ein Befehl braucht einen Idempotency-Key (höchstens 100 Zeichen)",
                               "a command needs an Idempotency-Key (at most 100 characters)"))
        digest = request_digest(name, args)
        store = self.runtime.ctx.store
        with self._lock:
            stored = store.stored_command(key)
            if stored is not None:
                return _replay(stored, actor, digest)
            current = Acting(actor, key, name, digest)
            try:
                with acting(current):
                    result = command.handler(self.runtime, Args(args, name))
            except PracticeClientError as exc:
                if current.recorded:  # a change was made before the refusal: it stays applied
                    store.finish_command(current, "applied", _record(exc.text))
                    return Outcome("applied", None, error=exc.text)
                store.finish_command(current, "refused", _record(exc.text))
                log.info("command %s refused (%s)", name, type(exc).__name__)
                return Outcome("refused", error=exc.text)
            store.finish_command(current, "applied", result)
        log.info("command %s applied for workstation %s", name, actor.workstation_id)
        return Outcome("applied", result)
