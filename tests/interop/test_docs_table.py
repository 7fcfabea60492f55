"""docs/interoperability.md shows exactly what the suite checks: its table is the one
generated from the suite's parameters (``python -m tests.interop.matrix --write``)."""

from __future__ import annotations

from tests.interop.conftest import require_tool
from tests.interop.matrix import DOCS, PATIENT_APPS, current_docs_table, render


def test_docs_table_is_the_suites() -> None:
    for name in PATIENT_APPS:  # the versions in the table are the installed ones
        require_tool(name)
    assert current_docs_table(DOCS.read_text(encoding="utf-8")) == render(), (
        "docs/interoperability.md is out of date: python -m tests.interop.matrix --write")
