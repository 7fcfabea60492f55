"""Render the README screenshots: every page, German, from a realistic demo state.

``python -m tests.gui.make_screenshots DIR`` (``make screenshots``): a throw-away home
is set up offline (real practice key), filled through the store with the demo
state of :mod:`tests.gui.state`, and each page is rendered with the real command
``practice-client gui --screenshot``. Run it under ``scripts/with-keyring``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from practice_client.gui.main_window import PAGES

NAMES = {"requests": "anfragen", "deliveries": "versand", "patients": "patienten", "audit": "protokoll",
         "settings": "einstellungen"}


def prepare_home(root: Path) -> None:
    from practice_client.context import Context
    from practice_client.crypto.gpg import Gpg
    from practice_client.provision import SetupParams, provision
    from tests.support.gui_state import populate

    gpg = Gpg(root / "ident")
    fpr = gpg.generate_key("Plattform Identitaet", "ident@platform.test", "x" * 16, "ed25519")
    (root / "ident.asc").write_text(gpg.export_public(fpr), encoding="ascii")
    gpg.kill_agent()
    os.environ["PRACTICE_CLIENT_HOME"] = str(root / "home")
    ctx = Context()
    try:
        provision(ctx, SetupParams(
            server_url="https://plattform.example", practice_id="praxis-dr-mueller",
            platform_domain="plattform.example", ident_key_file=root / "ident.asc",
            export_dir=root / "export",
            offline=True, practice_name="Hausarztpraxis Dr. Müller",
        ))
        populate(ctx.store)
    finally:
        ctx.close()


def main(target: Path) -> int:
    target.mkdir(parents=True, exist_ok=True)
    root = Path(tempfile.mkdtemp(prefix="pcs", dir="/tmp"))
    os.environ.setdefault("PRACTICE_CLIENT_POLICY", str(Path(__file__).parents[1] / "data" / "empty-policy.toml"))
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    try:
        prepare_home(root)
        for page in PAGES:
            out = target / f"{NAMES[page]}.png"
            subprocess.run([sys.executable, "-m", "practice_client", "gui", "--screenshot", str(out), "--page", page],
                           check=True, env=os.environ.copy(), timeout=120)
            print(out)
    finally:
        subprocess.run(["gpgconf", "--homedir", str(root / "home" / "gnupg"), "--kill", "gpg-agent"],
                       check=False, capture_output=True)
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/screenshots")))
