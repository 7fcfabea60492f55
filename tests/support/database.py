"""A database as the first releases left it, and the check that a list query reads through
an index: shared by the migration tests and the stores' tests of later steps."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from practice_client.core.fieldcrypt import FieldCipher
from practice_client.core.migrations import MIGRATIONS
from tests.conftest import v1_sealed as sealed_as_v1

KEY = bytes(range(32))
CIPHER = FieldCipher(KEY)


def v1_sealed(column: str, value: str) -> bytes:
    return sealed_as_v1(KEY, column, value)


def v1_database(path: Path) -> sqlite3.Connection:
    """A database as the first releases left it: their schema, 'meta' with version 1, rows."""
    db = sqlite3.connect(path, isolation_level=None)
    MIGRATIONS[0].run(db, None)
    db.execute("INSERT INTO meta(key, value) VALUES ('schema_version', '1')")
    db.execute("INSERT INTO patients VALUES ('1001', ?, ?, NULL, '2026-01-01T00:00:00Z')",
               (v1_sealed("patients.name", "Erika Mustermann"), v1_sealed("patients.birth_date", "1964-08-12")))
    return db

def assert_read_through_indexes(db: sqlite3.Connection, *queries: str) -> None:
    """Each query reads through an index, with no sorting of its own (cost does not grow with the table)."""
    for sql in queries:
        plan = " ".join(str(row[-1]) for row in db.execute(f"EXPLAIN QUERY PLAN {sql}"))
        assert "USING" in plan and "TEMP B-TREE" not in plan, (sql, plan)
