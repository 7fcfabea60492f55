"""What Outlook keeps of a received mail, as a real .msg: written by an independent .msg
writer (Tutanota's oxmsg, node, from the committed package-lock.json in tests/intake/outlook)."""

from __future__ import annotations

import base64
import email
import email.policy
import fcntl
import json
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.conftest import require

WRITER = Path(__file__).resolve().parent.parent / "intake" / "outlook"


@pytest.fixture(scope="session")
def outlook_writer() -> Iterator[Path]:
    """oxmsg installed from the committed package-lock.json (once, also across xdist workers)."""
    require(shutil.which("node") is not None and shutil.which("npm") is not None, "node and npm (nodejs)")
    with (WRITER / ".install.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (WRITER / "node_modules" / "@tutao" / "oxmsg").is_dir():
            done = subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=WRITER, capture_output=True,
                                  text=True, timeout=300)
            require(done.returncode == 0, f"npm ci of tests/intake/outlook ({done.stderr[-300:]})")
    yield WRITER / "write-msg.mjs"


def save_as_msg(writer: Path, raw: bytes, target: Path, edit: Callable[[bytes], bytes] = lambda b: b) -> Path:
    """What Outlook keeps of a received mail, written as a .msg by oxmsg (``edit``: what an
    attacker with the file does to request.json)."""
    headers = raw.split(b"\r\n\r\n", 1)[0].decode("ascii") + "\r\n"
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    body, attachments = "", []
    for part in msg.iter_parts():
        if part.get_content_type() == "text/plain":
            body = part.get_content()
        else:
            data = part.get_payload(decode=True)
            if part.get_filename() == "request.json":
                data = edit(data)
            attachments.append({"name": part.get_filename(), "data": base64.b64encode(data).decode()})
    spec = {"output": str(target), "from": "anfragen@platform.test", "to": ["praxis@example.org"],
            "subject": str(msg["Subject"]), "date": "2026-11-30T10:00:00Z", "headers": headers,
            "body": body, "attachments": attachments}
    subprocess.run(["node", str(writer)], input=json.dumps(spec), text=True, check=True, timeout=60,
                   capture_output=True)
    return target
