"""Phone numbers come from ``phonenumberslite``: the same parsing and validation, none of
the geocoding / carrier / time-zone data (~40 MB in the bundle) - and nothing here needs it."""

from __future__ import annotations

import ast
import importlib.metadata
import importlib.util
from pathlib import Path

import pytest

from practice_client.core.phone import is_e164, normalize_phone

PACKAGE = Path(__file__).resolve().parent.parent / "practice_client"
GEODATA_MODULES = ("phonenumbers.geocoder", "phonenumbers.carrier", "phonenumbers.timezone")


def test_the_phonenumbers_module_is_the_lite_distribution_without_geodata() -> None:
    assert importlib.metadata.packages_distributions()["phonenumbers"] == ["phonenumberslite"]
    for data in ("phonenumbers.geodata", "phonenumbers.carrierdata", "phonenumbers.tzdata"):
        assert importlib.util.find_spec(data) is None, data


def test_no_module_of_the_client_uses_the_geodata() -> None:
    used: list[str] = []
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            else:
                continue
            used += [f"{path.name}: {n}" for n in names if n in GEODATA_MODULES]
    assert used == []


@pytest.mark.parametrize("text", ["0171 1234567", "+49 171 1234567", "0049 171 1234567",
                                  "+49 (0)171 1234567", "0171/1234567"])
def test_german_forms_normalise_to_e164_with_the_lite_data(text: str) -> None:
    assert normalize_phone(text) == "+491711234567"
    assert is_e164("+491711234567")


@pytest.mark.parametrize("text", ["0171 123", "", "+49", "x" * 41, "not a number"])
def test_invalid_or_truncated_numbers_are_refused(text: str) -> None:
    assert normalize_phone(text) is None
