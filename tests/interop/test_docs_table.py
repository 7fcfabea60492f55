"""docs/interoperability.md shows exactly what the suite checks: its table is the one
generated from the suite's parameters (``python -m tests.interop.matrix --write``)."""

from __future__ import annotations

from tests.interop.conftest import require_tool
from tests.interop.matrix import DOCS, PATIENT_APPS, TOOLS, VERSIONS, current_docs_table, render


def _without_versions(table: str) -> str:
    return "\n".join(line for line in table.splitlines() if not line.startswith(VERSIONS))


def test_docs_table_is_the_suites() -> None:
    """The cases and results are the suite's; the versions line names every tool (another
    build of the same tools elsewhere - a CI runner's Debian - does not make it stale)."""
    for name in PATIENT_APPS:
        require_tool(name)
    documented = current_docs_table(DOCS.read_text(encoding="utf-8"))
    assert _without_versions(documented) == _without_versions(render()), (
        "docs/interoperability.md is out of date: python -m tests.interop.matrix --write")
    versions = next(line for line in documented.splitlines() if line.startswith(VERSIONS))
    assert all(TOOLS[name].version().split()[0] in versions for name in PATIENT_APPS), versions
