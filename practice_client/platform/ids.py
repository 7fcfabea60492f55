"""What the platform accepts as an id, and the parts of a document - the same rules on
both sides (the client, the testbed platform) keep ids out of path traversal."""

from __future__ import annotations

import re

PLATFORM_ID_RE = re.compile(r"^[A-Za-z0-9-]{8,64}$")
PARTS = ("document", "manifest")


def valid_platform_id(value: str) -> bool:
    """Document and request ids the platform accepts: a uuid or ``[A-Za-z0-9-]{8,64}``."""
    return bool(PLATFORM_ID_RE.match(value))
