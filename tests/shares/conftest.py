"""Fixtures of the shares tests: a real clamd (started once per session on a unix socket),
and the delivery tests' world (testbed platform, identity authority, patients): all from
tests/support."""

from tests.support.shares import clamd  # noqa: F401 - the fixture
from tests.support.worlds import client, world  # noqa: F401 - the fixtures
