"""docs/platform-api.yaml is a valid OpenAPI 3.1 document and describes exactly what the
testbed platform serves: every route and method of the testbed is in it, and nothing else."""

from __future__ import annotations

from pathlib import Path

import yaml
from openapi_spec_validator import validate

from practice_client.testbed.faults import Faults, Stats
from practice_client.testbed.platform import PlatformApp

DOCUMENT = Path(__file__).resolve().parents[2] / "docs" / "platform-api.yaml"
METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}


def operations_documented() -> set[tuple[str, str]]:
    spec = yaml.safe_load(DOCUMENT.read_text(encoding="utf-8"))
    validate(spec)
    return {(path, method.upper()) for path, item in spec["paths"].items() for method in item if method in METHODS}


def operations_served(tmp_path: Path) -> set[tuple[str, str]]:
    app = PlatformApp(tmp_path, "token", Faults(), Stats()).app
    served: set[tuple[str, str]] = set()
    for route in app.routes:
        methods = set(route.methods or ())
        if "GET" in methods:
            methods.discard("HEAD")  # Starlette answers HEAD for every GET by itself
        served |= {(route.path, m) for m in methods}
    return served


def test_openapi_document_and_testbed_routes_agree(tmp_path: Path) -> None:
    documented, served = operations_documented(), operations_served(tmp_path)
    assert served - documented == set(), "served by the testbed but not documented"
    assert documented - served == set(), "documented but not served by the testbed"
    assert len(served) == 13  # the API of DESIGN.md and the audit checkpoint
