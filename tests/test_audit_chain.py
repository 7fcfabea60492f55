"""The keyed audit chain against someone who can write the home folder but not read the
keyring: cutting the end and fixing up the head, rewriting the middle and re-hashing
the chain, forging the remembered verification, a first-release log adopted once -
each performed, each must fail ``audit verify``. And the store opens without reading
the log, whatever its length; crashes mid-write are repaired, tampering is not adopted.

(With the first releases' plain SHA-256 chain and unauthenticated head, the two main
attacks here passed ``audit verify``: whoever re-hashes the chain can also set the head.)"""

from __future__ import annotations

import hashlib
import hmac
import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from practice_client.context import Context
from practice_client.core.audit import AuditLog
from practice_client.core.store import Store
from tests.conftest import v1_sealed
from tests.support.cli import run_cli as run

ENTRIES = 8


@pytest.fixture
def ctx(client_home: Path) -> Iterator[Context]:
    context = Context()
    for n in range(ENTRIES):
        context.store.record("key.exported", n=n, fingerprint=f"{n:040X}")
    yield context
    context.close()


def reopen(ctx: Context) -> Store:
    ctx.store.close()
    del ctx.__dict__["store"]
    return ctx.store


def lines(ctx: Context) -> list[bytes]:
    return ctx.home.audit.read_bytes().splitlines(keepends=True)


def set_meta(ctx: Context, key: str, value: str | None) -> None:
    """What an attacker with the database file does (no store, no key)."""
    db = sqlite3.connect(ctx.home.database)
    if value is None:
        db.execute("DELETE FROM meta WHERE key=?", (key,))
    else:
        db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (key, value))
    db.commit()
    db.close()


def get_meta(ctx: Context, key: str) -> str:
    db = sqlite3.connect(ctx.home.database)
    value = db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()[0]
    db.close()
    return str(value)


def guessed_tag(text: str) -> str:
    return hmac.new(b"x" * 32, text.encode(), hashlib.sha256).hexdigest()


def verify_fails(*extra: str) -> str:
    """``audit verify`` as users run it: exit 1, one line naming the log."""
    result = run("audit", "verify", *extra)
    assert result.returncode == 1, (extra, result.stdout, result.stderr)
    assert "audit.jsonl" in result.stderr and result.stderr.count("\n") == 1
    return result.stderr


@pytest.mark.parametrize("checked_before", [True, False], ids=["after-a-check", "never-checked"])
@pytest.mark.parametrize("tag", ["none", "old", "guessed"])
def test_cut_end_with_a_fixed_up_head_fails(ctx: Context, checked_before: bool, tag: str) -> None:
    if checked_before:
        assert ctx.store.verify_audit().ok
    original, old_head = lines(ctx), get_meta(ctx, "audit_head")
    ctx.store.close()
    kept = original[:-3]
    ctx.home.audit.write_bytes(b"".join(kept))
    # the attacker's best head: the last kept entry, its link copied from the first line cut
    seq, link = len(kept), json.loads(original[len(kept)])["prev"]
    forged = {"none": f"{seq}:{link}", "old": f"{seq}:{link}:{old_head.rsplit(':', 1)[1]}",
              "guessed": f"{seq}:{link}:{guessed_tag(f'{seq}:{link}')}"}[tag]
    set_meta(ctx, "audit_head", forged)
    if not checked_before:
        set_meta(ctx, "audit_verified", None)
    verify_fails()
    assert "not authentic" in verify_fails("--full")


@pytest.mark.parametrize("wiped", [False, True], ids=["cut", "wiped"])
def test_changes_after_a_forged_head_do_not_launder_it(ctx: Context, wiped: bool) -> None:
    """The client keeps working after the attack (staff, the agent): the entries it adds
    build on the forged head, but never make it authentic again."""
    original = lines(ctx)
    ctx.store.close()
    if wiped:  # log, head, index and verified position gone - the data stays
        ctx.home.audit.write_bytes(b"")
        for key in ("audit_head", "audit_verified"):
            set_meta(ctx, key, None)
        db = sqlite3.connect(ctx.home.database)
        db.execute("DELETE FROM audit_index")
        db.execute("INSERT INTO patients(patient_number, name, birth_date, phone, updated_at, change_seq) "
                   "VALUES ('1', x'00', x'00', NULL, 't', 0)")
        db.commit()
        db.close()
    else:
        kept = original[:-3]
        ctx.home.audit.write_bytes(b"".join(kept))
        set_meta(ctx, "audit_head", f"{len(kept)}:{json.loads(original[len(kept)])['prev']}")
        set_meta(ctx, "audit_verified", None)
    store = reopen(ctx)
    for n in range(3):
        store.record("key.exported", n=100 + n)
    store.close()
    verify_fails()
    assert "not authentic" in verify_fails("--full")


@pytest.mark.parametrize("rehash", ["sha256", "other-key"])
def test_rewritten_middle_with_a_rehashed_chain_fails(ctx: Context, rehash: str) -> None:
    assert ctx.store.verify_audit().ok  # the quick check later starts from here
    original = lines(ctx)
    ctx.store.close()
    records = [json.loads(line) for line in original]
    records[3]["details"]["fingerprint"] = "F" * 40  # the entry the attacker wants changed

    def link(line: bytes) -> str:
        if rehash == "sha256":
            return hashlib.sha256(line.rstrip(b"\n")).hexdigest()
        return hmac.new(b"k" * 32, b"audit-link\0" + line.rstrip(b"\n"), hashlib.sha256).hexdigest()

    rewritten: list[bytes] = []
    for number, record in enumerate(records):
        if number > 3:
            record["prev"] = link(rewritten[-1])
        rewritten.append(json.dumps(record, sort_keys=True, ensure_ascii=False).encode() + b"\n")
    ctx.home.audit.write_bytes(b"".join(rewritten))
    head = f"{len(rewritten)}:{link(rewritten[-1])}"
    set_meta(ctx, "audit_head", f"{head}:{guessed_tag(head)}")
    assert "verified" in verify_fails() or "authentic" in verify_fails()
    assert "line 5 does not chain" in verify_fails("--full")


def test_one_edited_line_behind_the_checked_part_needs_the_full_check(ctx: Context) -> None:
    """The quick check reads only what is new (and the seam to what was checked): an edit
    deep in the checked part that leaves the seam alone is for ``--full`` to find."""
    assert ctx.store.verify_audit().ok
    original = lines(ctx)
    ctx.store.close()
    original[2] = original[2].replace(b'"n": 2', b'"n": 7')
    ctx.home.audit.write_bytes(b"".join(original))
    assert run("audit", "verify").returncode == 0
    assert "line 4 does not chain" in verify_fails("--full")


def test_a_forged_verified_position_is_ignored(ctx: Context) -> None:
    """Claiming the whole log was checked (to hide an edit) needs the key: without it the
    claim is ignored and everything is checked."""
    original = lines(ctx)
    end = sum(map(len, original))
    position = f"{ENTRIES}:{end - len(original[-1])}:{end}:{json.loads(original[-1])['prev']}"
    original[2] = original[2].replace(b'"n": 2', b'"n": 7')
    ctx.home.audit.write_bytes(b"".join(original))
    set_meta(ctx, "audit_verified", f"{position}:{guessed_tag(position)}")
    result = reopen(ctx).verify_audit()
    assert not result.ok and result.full and "line 4" in result.problem


def test_quick_check_reads_only_what_is_new(ctx: Context) -> None:
    assert ctx.store.verify_audit(full=True).checked == ENTRIES
    ctx.store.record("key.exported", n=99)
    again = ctx.store.verify_audit()
    assert again.ok and not again.full and again.checked == 1 and again.entries == ENTRIES + 1
    assert ctx.store.verify_audit().checked == 0


def test_lines_cut_after_a_check_are_reported_as_such(ctx: Context) -> None:
    assert ctx.store.verify_audit().ok
    original = lines(ctx)
    ctx.store.close()
    ctx.home.audit.write_bytes(b"".join(original[:-2]))
    head = f"{ENTRIES - 2}:{json.loads(original[-2])['prev']}"
    set_meta(ctx, "audit_head", f"{head}:{guessed_tag(head)}")
    assert "was verified before" in verify_fails()


def test_an_emptied_log_of_a_store_with_data_fails(ctx: Context) -> None:
    from practice_client.core.models import Patient

    ctx.store.upsert_patients([Patient("1", "Erika Mustermann", "1964-08-12", None)], "test")
    ctx.store.close()
    ctx.home.audit.write_bytes(b"")
    set_meta(ctx, "audit_head", None)
    set_meta(ctx, "audit_verified", None)
    db = sqlite3.connect(ctx.home.database)
    db.execute("DELETE FROM audit_index")
    db.commit()
    db.close()
    assert "empty" in verify_fails()


class CountingLog(AuditLog):
    """An audit log that counts the bytes read from its file."""

    read_bytes = 0

    def lines_from(self, offset: int = 0):  # type: ignore[no-untyped-def]
        for position, line in super().lines_from(offset):
            CountingLog.read_bytes += len(line)
            yield position, line

    def read(self, offset: int, end: int) -> bytes:
        data = super().read(offset, end)
        CountingLog.read_bytes += len(data)
        return data


def test_opening_a_store_reads_none_of_the_log(ctx: Context) -> None:
    for n in range(200):
        ctx.store.record("key.exported", n=n)
    ctx.store.close()
    log = CountingLog(ctx.home.audit, ctx.store.audit.key)
    CountingLog.read_bytes = 0
    store = Store(ctx.home.database, log, ctx.store._cipher)
    try:
        assert CountingLog.read_bytes == 0
        assert store.audit_head().seq == ENTRIES + 200
        assert len(store.audit_page(limit=5)) == 5 and CountingLog.read_bytes < 5 * 400  # a page reads its lines
    finally:
        store.close()


def test_a_crash_between_append_and_commit_is_adopted_on_open(ctx: Context) -> None:
    head = ctx.store.audit_head()
    entry = ctx.store.audit.make_entry(head, "document.matched", {"document_id": "x"})
    ctx.store.audit.append([entry.to_line()])  # as if the process died before COMMIT
    store = reopen(ctx)
    assert store.verify_audit(full=True).ok
    events = [e["event"] for e in store.audit.entries()]
    assert events[-2:] == ["document.matched", "audit.uncommitted_entry"]


def test_a_torn_write_is_cut_and_the_log_goes_on(ctx: Context) -> None:
    with ctx.home.audit.open("ab") as handle:
        handle.write(b'{"chain": "hmac-sha256", "details": {"docu')  # power cut in the middle of a line
    store = reopen(ctx)
    store.record("key.exported", n=100)
    assert store.verify_audit(full=True).ok


def test_lines_appended_by_someone_else_are_not_adopted(ctx: Context) -> None:
    forged = {"chain": "hmac-sha256", "details": {}, "event": "document.delivered", "prev": "0" * 64,
              "seq": ENTRIES + 1, "time": "2026-01-01T00:00:00Z"}
    with ctx.home.audit.open("ab") as handle:
        handle.write(json.dumps(forged, sort_keys=True).encode() + b"\n")
    store = reopen(ctx)
    assert store.audit_head().seq == ENTRIES
    store.record("key.exported", n=100)  # work goes on; the check reports what happened
    result = store.verify_audit(full=True)
    assert not result.ok and f"line {ENTRIES + 1}" in result.problem


# -- a log of the first releases ---------------------------------------------------------------


def first_release_home(ctx: Context) -> list[bytes]:
    """A database and log as the first releases left them: schema 1, a plain SHA-256 chain,
    an untagged head. Returns the log's lines."""
    from practice_client.core.migrations import MIGRATIONS
    from practice_client.core.secrets import DATABASE_KEY
    from practice_client.core.store import database_key_bytes

    key = database_key_bytes(ctx.secrets.get_or_create(DATABASE_KEY))
    db = sqlite3.connect(ctx.home.database, isolation_level=None)
    MIGRATIONS[0].run(db, None)
    db.execute("INSERT INTO meta(key, value) VALUES ('schema_version', '1')")
    db.execute("INSERT INTO patients VALUES ('1001', ?, ?, NULL, '2026-01-01T00:00:00Z')",
               (v1_sealed(key, "patients.name", "Erika Mustermann"),
                v1_sealed(key, "patients.birth_date", "1964-08-12")))
    written, prev = [], "0" * 64
    for seq, event in enumerate(("setup.completed", "patients.imported", "key.exported"), 1):
        record = {"seq": seq, "time": f"2026-01-0{seq}T00:00:00Z", "event": event, "details": {"n": seq},
                  "prev": prev}
        line = json.dumps(record, sort_keys=True).encode() + b"\n"
        written.append(line)
        prev = hashlib.sha256(line.rstrip(b"\n")).hexdigest()
    ctx.home.audit.write_bytes(b"".join(written))
    db.execute("INSERT INTO meta(key, value) VALUES ('audit_head', ?)", (f"3:{prev}",))
    db.close()
    return written


def test_a_first_release_log_is_adopted_once_and_protected_from_then_on(client_home: Path) -> None:
    ctx = Context()
    try:
        legacy = first_release_home(ctx)
        store = ctx.store  # migrates; the audit key is new: the old head is taken over and tagged
        assert store.get_patient("1001").name == "Erika Mustermann"
        assert [e["event"] for e in store.audit.entries()][3:] == ["audit.keyed", "store.migrated"]
        assert store.verify_audit(full=True).ok
        assert [e["seq"] for e in store.audit_page(limit=10)] == [5, 4, 3, 2, 1], "old entries are indexed too"
        store.close()
        # rewriting an old entry and re-hashing the old part of the chain: the keyed link after it breaks
        records = [json.loads(line) for line in lines(ctx)]
        records[1]["details"]["n"] = 99
        rewritten: list[bytes] = []
        for number, record in enumerate(records):
            if 0 < number < len(legacy):
                record["prev"] = hashlib.sha256(rewritten[-1].rstrip(b"\n")).hexdigest()
            rewritten.append(json.dumps(record, sort_keys=True, ensure_ascii=False).encode() + b"\n")
        ctx.home.audit.write_bytes(b"".join(rewritten))
        assert "line 4 does not chain" in verify_fails("--full")
    finally:
        ctx.close()


def test_an_untagged_head_is_not_adopted_when_the_key_existed(client_home: Path) -> None:
    """Someone who makes the head look like a first release's (to have a cut log adopted)
    gets nothing: once the audit key exists, every head must carry its tag."""
    from practice_client.core.secrets import AUDIT_KEY

    ctx = Context()
    try:
        first_release_home(ctx)
        ctx.secrets.get_or_create(AUDIT_KEY)  # this installation keyed its log before
        result = ctx.store.verify_audit(full=True)
        assert not result.ok and "not authentic" in result.problem
    finally:
        ctx.close()
