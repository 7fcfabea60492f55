"""Fixtures for delivery tests: the session's World, a fresh client home per test, and a
running agent without request sources (tests/support/worlds.py, tests/support/delivery.py;
a module that needs another agent defines its own ``agent`` fixture)."""

from tests.support.delivery import agent  # noqa: F401 - the fixture
from tests.support.worlds import client, world  # noqa: F401 - the fixtures
