"""Fixtures for the practice service's tests: a real service process over TLS on loopback,
its vault key a real systemd credential, set up against the World's testbed platform
(tests/support/service.py, tests/support/worlds.py)."""

from tests.support.service import credentials_dir, practice, service, service_home  # noqa: F401 - the fixtures
from tests.support.worlds import client, world  # noqa: F401 - the fixtures
