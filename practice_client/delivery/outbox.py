"""The outbox: one row per document, created before any work on the file starts, and
every change of its state.

A document's life is ``detected -> matched -> encrypted -> uploading -> delivered``
(or ``unassigned`` for staff, ``held`` for staff when the patient's key changed since
the request was accepted, or ``failed`` with a reason); every step is one
:meth:`Store.transition` (atomic, audited), and every one is made here. The document id
is a random uuid4 chosen here; the uploads carry it in their metadata, and the URLs the
platform names for them are stored with the document (before a byte is sent; see
:mod:`.job`). Where its files are at each step is :mod:`.spool`'s; which request and key
it may go to, :mod:`.recipients`'s; the machine that drives it, :mod:`.job`.

Where the original file is, is always derivable from the row, so a crash at any
point resumes without losing or duplicating anything:

- ``detected``: in the export folder (``source_path``) or already in the spool
  (``spool/<id>/original``) - :func:`resume` finishes the move;
- ``unassigned`` ... ``uploading``: in the spool;
- ``delivered`` / ``failed``: on its way to ``processed/`` / ``failed/`` (the target is
  recorded in the transition, then the file is moved): :func:`settle` completes it.

Files given to ``send`` (or the GUI's "add files") are *copied* into the spool;
the user's file stays where it is, and the spool copy is removed when done.

A document's reason for staff (``error``) is stored as :meth:`Text.encode` (both
languages apart); the GUI shows one, the command line both.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import stat
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from practice_client.core.audit import now_iso
from practice_client.core.errors import InputError, StateError
from practice_client.core.files import NOT_A_FOLDER, Folder
from practice_client.core.models import Document, DocumentState
from practice_client.core.patients import parse_birth_date
from practice_client.core.text import Text, as_text
from practice_client.crypto.gpg import normalize_fingerprint
from practice_client.delivery import matching, sidecar
from practice_client.delivery.answer import write_answer
from practice_client.delivery.names import display_name, safe_name
from practice_client.delivery.recipients import KeyChanged, find, match_data, recipient_pin, valid_request
from practice_client.delivery.spool import (
    FAILED,
    ORIGINAL,
    PROCESSED,
    SIDECAR,
    Spool,
    copy_in,
    over_limit,
    refusal,
    take_entry,
)

if TYPE_CHECKING:
    from practice_client.context import Context
    from practice_client.core.config import Config
    from practice_client.delivery.seal import Sealed

log = logging.getLogger(__name__)

ORIGIN_EXPORT = "export"
ORIGIN_SEND = "send"

ABANDON_FAILED = "document failed"  # its uploads are terminated (delivery/terminations.py)
ABANDON_KEY_CHANGED = "the patient's key changed"  # held: uploads to the old key are terminated
AT_REST = frozenset({DocumentState.UNASSIGNED, DocumentState.FAILED, DocumentState.HELD})
IN_WORK = (DocumentState.MATCHED, DocumentState.ENCRYPTED, DocumentState.UPLOADING)

VANISHED = Text("Datei verschwunden", "file vanished")
DISK_FULL = Text("Spool voll, Original unverändert", "spool disk full, original untouched")


# -- detection ---------------------------------------------------------------------------


def ingest(ctx: Context, path: Path) -> Document:
    """A complete entry in the export folder becomes an outbox row, then moves to the spool.

    Called by the watcher, one entry at a time; the entry is gone from the export
    folder when this returns (spool or ``failed/``). Its folders are walked from the
    export folder without following links: when one of them is not a plain folder (it
    was swapped for a link while the watcher was busy), nothing is taken from it."""
    spool = Spool.of(ctx)
    parts = path.relative_to(spool.export).parts if spool.export else (path.name,)
    folder = parts[0] if len(parts) > 1 else None
    extra: dict[str, object] = {"origin": ORIGIN_EXPORT, "folder": folder}
    try:
        parent, name = spool.below_export(path)
    except FileNotFoundError:
        raise InputError(path, VANISHED) from None
    except OSError as exc:
        if exc.errno not in NOT_A_FOLDER:
            raise
        doc = _new_row(ctx, path, None, extra)
        return ctx.store.transition(doc.document_id, DocumentState.FAILED, source_path="", error=Text(
            "Ein Ordner auf dem Weg ist kein normaler Ordner mehr (symbolische Verknüpfung?) - nichts übernommen",
            "a folder on the way is no longer a plain folder (a link?): nothing was taken").encode())
    with parent:
        try:
            st = parent.lstat(name)
        except FileNotFoundError:
            raise InputError(path, VANISHED) from None
        doc = _new_row(ctx, path, st, extra)
        return _take(ctx, doc, parent, name)


def add_files(ctx: Context, files: list[Path], request_id: str, names: list[str] | None = None) -> list[Document]:
    """``send FILE... --request ID`` and the GUI: copy files into the outbox for one
    valid request. Every file and the request are checked before anything is written.
    ``names``: each file's name as staff picked it, where the file itself is a copy under
    another name (a workstation's upload, staged by the practice service); the documents,
    and every refusal, are named by it."""
    if names is not None and len(names) != len(files):
        raise ValueError("one name for each file")
    record = valid_request(ctx, request_id)
    checked: list[tuple[Path, Path, os.stat_result]] = []  # (file, the name its document gets, its stat)
    for index, file in enumerate(files):
        name = Path(names[index]) if names is not None else None
        st = check_file(ctx.config, file, name)
        checked.append((file, name if name is not None else Path(os.path.abspath(file)), st))
    documents = []
    spool = Spool.of(ctx)
    for file, name, st in checked:
        doc = _new_row(ctx, name, st, {"origin": ORIGIN_SEND})
        try:
            spool.make(doc.document_id)
            copy_in(file, spool.original(doc.document_id))
        except OSError as exc:
            documents.append(fail(ctx, doc, Text(f"Kopieren ins Spool fehlgeschlagen: {exc.strerror}",
                                                 f"copy to spool failed: {exc.strerror}")))
            continue
        documents.append(ctx.store.transition(
            doc.document_id, DocumentState.MATCHED, request_id=record.request_id,
            match_method=ORIGIN_SEND, source_path=str(spool.original(doc.document_id)),
        ))
    return documents


def check_file(config: Config, file: Path, label: Path | None = None) -> os.stat_result:
    """Whether staff may send ``file``: a plain file (no link, no hard link, not empty)
    within the practice's document limit; InputError naming it (``label``) otherwise.
    A workstation checks the files it picked by this too, before it uploads any."""
    try:
        st = os.lstat(file)
    except OSError as exc:
        raise InputError(label or file, Text(f"nicht lesbar: {exc.strerror}",
                                             f"cannot read: {exc.strerror}")) from None
    reason = refusal(st) or over_limit(config, st.st_size)
    if reason is not None:
        raise InputError(label or file, reason)
    return st


def _new_row(ctx: Context, path: Path, st: os.stat_result | None, extra: dict[str, object]) -> Document:
    now = now_iso()
    if st is not None:
        extra = {**extra, "modified_at": datetime.fromtimestamp(st.st_mtime, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")}
    doc = Document(
        document_id=str(uuid.uuid4()), state=DocumentState.DETECTED,
        original_name=safe_name(path.name), source_path=display_name(str(path)),
        size=st.st_size if st is not None and stat.S_ISREG(st.st_mode) else 0, sha256="", created_at=now,
        updated_at=now, extra=extra,
    )
    ctx.store.add_document(doc)
    return doc


def _take(ctx: Context, doc: Document, parent: Folder, name: str) -> Document:
    """Move the entry from the export folder into the spool (or refuse it), then match."""
    try:
        st = parent.lstat(name)
    except FileNotFoundError:
        return fail(ctx, doc, VANISHED)
    reason = refusal(st) or over_limit(ctx.config, st.st_size)
    if reason is not None:
        return refuse(ctx, doc, parent, name, reason)
    try:
        with Spool.of(ctx).open(doc.document_id, create=True) as spool:
            take_entry(parent, name, spool, ORIGINAL)
            conflict = _take_records(parent, name, spool)
    except OSError as exc:
        why = DISK_FULL if exc.errno == errno.ENOSPC else Text(
            f"Übernahme ins Spool fehlgeschlagen: {exc.strerror}", f"could not move to the spool: {exc.strerror}")
        return refuse(ctx, doc, parent, name, why)
    return _after_take(ctx, doc, conflict)


def _take_records(parent: Folder, name: str, spool: Folder) -> Text | None:
    """The document's GDT record (its sidecar, or a GDT file of its folder whose 6305 names
    it) travels into the spool with it, through the folder's handle; several are a
    conflict: they stay in the export folder, and the reason is returned."""
    records = sidecar.records_for(parent.path / name)
    if len(records) > 1:
        return sidecar.conflict(records)
    with contextlib.suppress(OSError):
        if records and records[0].parent == parent.path and not spool.exists(SIDECAR):
            st = parent.lstat(records[0].name)
            if sidecar.is_regular(st):
                take_entry(parent, records[0].name, spool, SIDECAR)
    return None


def _after_take(ctx: Context, doc: Document, sidecar_conflict: Text | None = None) -> Document:
    """The entry is ours now: check again what it is (it may have been swapped), then match."""
    st = os.lstat(Spool.of(ctx).original(doc.document_id))
    reason = refusal(st)
    if reason is not None:
        return fail(ctx, doc, reason)
    if sidecar_conflict:
        doc.extra = {**doc.extra, "sidecar_conflict": sidecar_conflict.encode()}
    return match(ctx, doc)


# -- matching ----------------------------------------------------------------------------------


def match(ctx: Context, doc: Document) -> Document:
    """Apply the matching rules; ``matched`` or ``unassigned`` (with the reason for staff).
    An unassigned document waits for staff with its original sealed (:func:`rest`)."""
    original = Spool.of(ctx).original(doc.document_id)
    found = find(ctx, doc, match_data(ctx))
    changes: dict[str, Any] = {"source_path": str(original), "size": os.lstat(original).st_size, "extra": doc.extra}
    if found.matched:
        return _matched(ctx, doc, found, **changes)
    unassigned = ctx.store.transition(doc.document_id, DocumentState.UNASSIGNED, error=found.reason.encode(),
                                      **changes)
    rest(ctx, doc.document_id)
    return unassigned


def rematch(ctx: Context) -> list[Document]:
    """Unassigned documents whose rules now give exactly one request (staff accepted the
    request after the PMS exported the file) move on; the others stay with staff."""
    moved = []
    data = match_data(ctx)
    for doc in ctx.store.list_documents([DocumentState.UNASSIGNED]):
        found = find(ctx, doc, data)
        if found.matched:
            with contextlib.suppress(StateError):  # staff were quicker (assigned it meanwhile)
                moved.append(_matched(ctx, doc, found))
    return moved


def _matched(ctx: Context, doc: Document, found: matching.Match, **changes: Any) -> Document:
    """The one transition to ``matched`` by the rules (on detection and on a rematch)."""
    return ctx.store.transition(doc.document_id, DocumentState.MATCHED, request_id=found.request_id,
                                match_method=found.method, error=None, **changes)


# -- at rest: sealed while waiting --------------------------------------------------------------


def rest(ctx: Context, document_id: str) -> None:
    """A document that waits (unassigned, for staff; failed, for a retry) keeps its original
    and sidecar sealed (:mod:`practice_client.core.sealedfile`), never in plain text.

    Idempotent and crash-safe: the sealed copy is complete and durable (atomic write)
    before the plain file is removed. Only while the document is still waiting and no
    worker holds it (the spool lock); the pipeline calls this again when it lets go."""
    spool = Spool.of(ctx)
    with spool.lock(document_id) as held:
        doc = ctx.store.get_document(document_id) if held else None
        if doc is not None and doc.state in AT_REST:
            spool.rest_parts(document_id)


def wake(ctx: Context, document_id: str) -> None:
    """The plain original and sidecar back in the spool, for work on them (the caller holds
    the document: the pipeline's lock, or the document is not in the pipeline's hands)."""
    Spool.of(ctx).wake_parts(document_id)


# -- the work's steps (driven by delivery.job) ------------------------------------------------


def sealed(ctx: Context, doc: Document, result: Sealed) -> Document:
    """``matched -> encrypted``: the sealed document and manifest are in the spool."""
    extra = {**doc.extra, **({"alert": "server_key_mismatch"} if result.alert else {})}
    return ctx.store.transition(
        doc.document_id, DocumentState.ENCRYPTED, ciphertext_sha256=result.ciphertext_sha256,
        manifest_sha256=result.manifest_sha256, sha256=result.plaintext_sha256, size=result.size, extra=extra,
    )


def uploading(ctx: Context, doc: Document, created: dict[str, str], attempt: bool = True) -> Document:
    """``encrypted -> uploading`` (or a new upload of one part while uploading): the URLs
    are stored before a byte is sent to them."""
    changes: dict[str, Any] = {"attempts": doc.attempts + 1} if attempt else {}
    return ctx.store.transition(doc.document_id, DocumentState.UPLOADING, uploads=created, **changes)


def transient(ctx: Context, doc: Document, reason: Text) -> int:
    """A failure a retry may cure: counted (and the reason kept while uploading); the
    document stays where it is. Returns the attempts so far."""
    attempts = doc.attempts + 1
    if doc.state is DocumentState.UPLOADING:
        ctx.store.transition(doc.document_id, DocumentState.UPLOADING, attempts=attempts, error=reason.encode())
    return attempts


# -- the key a document goes to ---------------------------------------------------------------


def hold_if_key_changed(ctx: Context, doc: Document) -> Document | None:
    """``held`` (both fingerprints in the row, the reason and the audit entry) when the
    patient was re-pinned since the request was accepted; None when the key is right."""
    if doc.state not in IN_WORK:
        return None
    record = ctx.store.get_request(doc.request_id or "")
    if record is None:
        return None
    try:
        recipient_pin(ctx, doc, record)
    except KeyChanged as change:
        return hold(ctx, doc, change)
    return None


def hold(ctx: Context, doc: Document, change: KeyChanged) -> Document:
    held = {"accepted_fingerprint": change.accepted, "current_fingerprint": change.current}
    log.info("document %s held: the patient's key changed", doc.document_id)
    # an upload to the old key that had begun is discarded (tus termination): a release
    # seals anew to the new key, a withhold sends nothing
    return ctx.store.transition(doc.document_id, DocumentState.HELD, error=change.text.encode(),
                                abandon=ABANDON_KEY_CHANGED, extra={**doc.extra, "held": held}, audit=held)


# -- staff actions -------------------------------------------------------------------------


def _staff_may(doc: Document, state: DocumentState, which: Text, verb: Text) -> None:
    """Staff's action ``verb`` is for documents in ``state`` only (StateError otherwise)."""
    if doc.state is not state:
        raise StateError(Text(f"{doc.document_id}: nur {which.de} Dokumente können {verb.de} werden "
                              f"(dieses ist {doc.state})",
                              f"{doc.document_id}: only {which.en} documents can be {verb.en} "
                              f"(this one is {doc.state})"))


def assign(ctx: Context, document_id: str, request_id: str, birth_date: str) -> Document:
    """Staff assign an unassigned document to a valid request (GUI, CLI), after typing
    the patient's birth date from the document: it must be the PMS record's - a second
    identifier that a slip in a list of similar names cannot pass."""
    doc = _get(ctx, document_id)
    _staff_may(doc, DocumentState.UNASSIGNED, Text("nicht zugeordnete", "unassigned"),
               Text("zugeordnet", "assigned"))
    record = valid_request(ctx, request_id)
    patient = ctx.store.get_patient(record.patient_number) if record.patient_number else None
    if patient is None:
        raise StateError(Text(f"{request_id}: Patient nicht in den Stammdaten, Geburtsdatum nicht prüfbar",
                              f"{request_id}: the patient is not in the PMS master data: the birth date "
                              "cannot be confirmed"))
    typed = parse_birth_date(birth_date.strip())
    if typed is None:
        shown = birth_date.strip() or "-"
        raise StateError(Text(f"{shown}: kein gültiges Geburtsdatum (TT.MM.JJJJ)",
                              f"{shown}: not a valid birth date (DD.MM.YYYY)"))
    if typed != patient.birth_date:
        raise StateError(Text(f"{request_id}: das Geburtsdatum passt nicht zu Patient {patient.patient_number} "
                              "laut PVS - bitte den Patienten prüfen",
                              f"{request_id}: the birth date does not match the PMS record of patient "
                              f"{patient.patient_number} - check the patient"))
    return ctx.store.transition(
        document_id, DocumentState.MATCHED, request_id=record.request_id,
        match_method=matching.STAFF, error=None, audit={"birth_date_confirmed": True},
    )


def release(ctx: Context, document_id: str, fingerprint: str) -> Document:
    """Staff decide a held document goes to the patient's new key: ``fingerprint`` must be
    the key pinned now (what staff were shown), else nothing changes."""
    doc = _get(ctx, document_id)
    _staff_may(doc, DocumentState.HELD, Text("zurückgehaltene", "held"), Text("freigegeben", "released"))
    record = valid_request(ctx, doc.request_id or "")
    chosen = normalize_fingerprint(fingerprint)
    current = ctx.store.get_pin_for_patient(record.patient_number) if record.patient_number else None
    if current is None or current.fingerprint != chosen:
        raise StateError(Text(f"{chosen}: das ist nicht der jetzt hinterlegte Schlüssel des Patienten",
                              f"{chosen}: this is not the patient's pinned key now"))
    extra = {k: v for k, v in doc.extra.items() if k != "held"}
    return ctx.store.transition(
        document_id, DocumentState.MATCHED, error=None, extra={**extra, "recipient_fingerprint": chosen},
        audit={"decision": "send_to_new_key", "fingerprint": chosen,
               "accepted_fingerprint": record.accepted_fingerprint},
    )


def withhold(ctx: Context, document_id: str) -> Document:
    """Staff decide a held document is not sent: failed, the original to ``failed/``."""
    doc = _get(ctx, document_id)
    _staff_may(doc, DocumentState.HELD, Text("zurückgehaltene", "held"), Text("zurückbehalten", "withheld"))
    why = Text.decode(doc.error or "")
    return fail(ctx, doc, Text(f"Von der Praxis nicht gesendet ({why.de})", f"withheld by staff ({why.en})"),
                audit={"decision": "withhold"})


def retry(ctx: Context, document_id: str) -> Document:
    """Try a failed document again: its original comes back from ``failed/`` into the spool."""
    doc = _get(ctx, document_id)
    _staff_may(doc, DocumentState.FAILED, Text("fehlgeschlagene", "failed"),
               Text("erneut versucht", "retried"))
    spool = Spool.of(ctx)
    original = spool.original(document_id)
    wake(ctx, document_id)  # kept in the spool, sealed
    if not os.path.lexists(original):
        parked = spool.parked(doc.source_path)
        if parked is None:
            where = doc.source_path or "no copy kept"
            raise StateError(Text(f"{document_id}: das Original ist nicht mehr da ({where})",
                                  f"{document_id}: the original is gone ({where})"))
        spool.take_back(document_id, *parked)
    spool.drop_ciphertexts(document_id)
    reason = refusal(os.lstat(original))
    if reason is not None:
        settle(ctx, doc)  # back to failed/, the reason still holds
        raise StateError(reason.prefixed(f"{document_id}: "))
    if doc.request_id:
        with contextlib.suppress(StateError):
            valid_request(ctx, doc.request_id)
            return ctx.store.transition(
                document_id, DocumentState.MATCHED, source_path=str(original), error=None,
            )
    return match(ctx, doc)


# -- endings ----------------------------------------------------------------------------------


def _parking(ctx: Context, doc: Document, folder_name: str) -> Path | None:
    """Where the original goes at the end (``processed/`` or ``failed/`` of the export folder)."""
    spool = Spool.of(ctx)
    if doc.extra.get("origin") != ORIGIN_EXPORT or spool.export is None:
        return None
    return spool.parking(doc.document_id, doc.original_name, folder_name)


def refuse(ctx: Context, doc: Document, parent: Folder, entry: str, reason: Text) -> Document:
    """An entry we must not read (link, FIFO, device, ...) or could not take: it moves,
    as it is and never followed, from the export folder to ``failed/`` with the reason."""
    spool = Spool.of(ctx)
    target = _parking(ctx, doc, FAILED)
    failed = ctx.store.transition(doc.document_id, DocumentState.FAILED, error=reason.encode(),
                                  source_path=str(target) if target else "",
                                  parked_at=now_iso() if target else None)
    if target is not None:
        spool.refuse_entry(parent, entry, target.name, reason)
    spool.remove(doc.document_id)
    log.info("document %s refused", doc.document_id)
    return failed


def fail(ctx: Context, doc: Document, reason: Text | str, audit: dict[str, Any] | None = None) -> Document:
    """A document that cannot be delivered: ``failed`` with the reason, original to ``failed/``
    (or, sent from elsewhere, kept sealed in the spool) - for a retry, until retention."""
    target = _parking(ctx, doc, FAILED)
    failed = ctx.store.transition(doc.document_id, DocumentState.FAILED, abandon=ABANDON_FAILED, audit=audit,
                                  error=as_text(reason).encode(), source_path=str(target) if target else "",
                                  parked_at=now_iso())
    try:
        settle(ctx, failed)
    except OSError as exc:  # the row says where the original belongs; the next start finishes it
        log.error("document %s: could not park the original (errno %s)", doc.document_id, exc.errno)
    log.info("document %s failed", doc.document_id)
    return failed


def delivered(ctx: Context, doc: Document, ciphertext_sha256: str) -> Document:
    """Tell the PMS (the GDT answer, when configured: at least once, so before the receipt
    is recorded), record the receipt, then move the original to ``processed/`` (or remove it)."""
    target = _parking(ctx, doc, PROCESSED) if ctx.config.after_delivery != "remove" else None
    answer = write_answer(ctx, doc, Spool.of(ctx).folder(doc.document_id) / SIDECAR, target)
    done = ctx.store.transition(
        doc.document_id, DocumentState.DELIVERED, audit={"gdt_answer": answer.name} if answer else None,
        delivered_at=now_iso(), ciphertext_sha256=ciphertext_sha256,
        source_path=str(target) if target else "", error=None, parked_at=now_iso() if target else None,
    )
    settle(ctx, done)
    return done


def settle(ctx: Context, doc: Document) -> None:
    """Finish moving the original of a delivered or failed document (idempotent, resumable).

    The parking folder is ``processed/`` for a delivered document, ``failed/`` for a failed
    one, opened without following a link (:meth:`Spool.own_folder`); the name is the row's."""
    spool = Spool.of(ctx)
    name = Path(doc.source_path).name if doc.source_path else None
    done = doc.state is DocumentState.DELIVERED
    if spool.kept(doc.document_id):
        if name is None:
            if not done:
                rest(ctx, doc.document_id)  # failed and sent from elsewhere: kept, sealed, for a retry
                return
            spool.drop_original(doc.document_id)  # sent from elsewhere, or after_delivery = "remove"
        else:
            wake(ctx, doc.document_id)  # the original leaves the spool as it came
            reason = None if done else Text.decode(doc.error or "")
            if not spool.park(doc.document_id, PROCESSED if done else FAILED, name, reason):
                rest(ctx, doc.document_id)  # failed, and no free name: kept, sealed, for a retry
                return
    if done or not spool.kept(doc.document_id):
        spool.remove(doc.document_id)


# -- start-up -------------------------------------------------------------------------------------


def resume(ctx: Context) -> list[Document]:
    """After a (crashed) run: finish half-done moves, seal what waits; return the rows the
    pipeline must continue."""
    store = ctx.store
    spool = Spool.of(ctx)
    _seal_waiting(ctx)
    for doc in store.list_documents([DocumentState.DELIVERED, DocumentState.FAILED]):
        if spool.folder(doc.document_id).exists():
            with contextlib.suppress(OSError):
                settle(ctx, doc)
    for doc in store.list_documents([DocumentState.DETECTED]):
        try:
            if os.path.lexists(spool.original(doc.document_id)):
                spool.drop_second_name(Path(doc.source_path), doc.document_id)
                _after_take(ctx, doc, _records_after_crash(ctx, doc))
                continue
            try:
                parent, name = spool.below_export(Path(doc.source_path))
            except (OSError, ValueError):
                parent = None
            if parent is not None and parent.exists(name):
                with parent:
                    _take(ctx, doc, parent, name)
            else:
                if parent is not None:
                    parent.close()
                fail(ctx, doc, Text("Original beim Neustart nicht gefunden", "original not found on restart"))
        except OSError as exc:
            fail(ctx, doc, Text(f"Wiederaufnahme fehlgeschlagen: {exc.strerror}", f"resume failed: {exc.strerror}"))
    return store.list_documents(list(IN_WORK))


def _seal_waiting(ctx: Context) -> None:
    """Originals of waiting documents that a crash (or a busy worker) left in plain text get
    sealed. Driven by the spool folder, which holds only documents in work or waiting."""
    for document_id in Spool.of(ctx).waiting():
        doc = ctx.store.get_document(document_id)
        if doc is not None and doc.state in AT_REST:
            with contextlib.suppress(OSError):
                rest(ctx, doc.document_id)


def _records_after_crash(ctx: Context, doc: Document) -> Text | None:
    """A crash after the original was taken, before its GDT record: the record follows now."""
    spool = Spool.of(ctx)
    try:
        parent, name = spool.below_export(Path(doc.source_path))
    except (OSError, ValueError):
        return None
    with parent, spool.open(doc.document_id) as own:
        return _take_records(parent, name, own)


def _get(ctx: Context, document_id: str) -> Document:
    doc = ctx.store.get_document(document_id)
    if doc is None:
        raise StateError(Text(f"{document_id}: kein solches Dokument", f"{document_id}: no such document"))
    return doc
