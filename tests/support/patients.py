"""The test patients, defined once: the PMS records (master data) the tests use.

The simulated patients of the worlds (their keys, their apps) are made from these."""

from __future__ import annotations

from practice_client.core.models import Patient

ERIKA = Patient("1001", "Erika Mustermann", "1964-08-12", "+491711234567")
MAX = Patient("1002", "Max Mustermann", "1960-01-31", "+491711234568")
GISELA = Patient("1003", "Gisela Beispiel", "1975-05-05", "+491711234569")

PATIENTS = (ERIKA, MAX, GISELA)
