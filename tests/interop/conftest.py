"""The interoperability world: one testbed platform (HTTPS), one DNS server with the
platform's DKIM key, one identity authority and one client home set up against them, per
test session (per xdist worker). Every case pins a patient of its own in that shared home,
so no case needs a fresh one; each patient's key is made once, by the test that uses it.

Real peers only: gpg, sq, rnp and node with OpenPGP.js (npm ci from the committed lock
file, done by ``make install``). A missing one skips locally and fails under CI=true."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path

import pytest

from practice_client.context import Context
from practice_client.core.paths import Home
from practice_client.crypto.gpg_output import colon_listing
from practice_client.provision import SetupParams, provision
from practice_client.testbed.dns import TxtDnsServer
from practice_client.testbed.identity import IdentityAuthority
from practice_client.testbed.implementations import TOOLS
from practice_client.testbed.mail import DkimKey
from practice_client.testbed.platform import TestbedPlatform
from tests.conftest import kill_agents, require, short_tmpdir
from tests.support.patients import ERIKA

DOMAIN = "plattform.example"
PRACTICE_ID = "praxis-interop"


def require_tool(name: str) -> None:
    require(TOOLS[name].missing() is None, f"{TOOLS[name].label}: {TOOLS[name].missing()}")


@dataclass
class InteropWorld:
    root: Path
    platform: TestbedPlatform
    dns: TxtDnsServer
    dkim: DkimKey
    authority: IdentityAuthority
    home: Path
    practice_fingerprint: str
    practice_key: str


def _keyring_ok() -> None:
    import keyring

    backend = keyring.get_keyring()
    name = f"{type(backend).__module__}.{type(backend).__name__}"
    require("fail" not in name and "keyrings.alt" not in name,
            f"a real OS keyring backend (got {name}; run through scripts/with-keyring)")


@pytest.fixture(scope="session")
def interop_world() -> Iterator[InteropWorld]:
    _keyring_ok()
    require_tool("gnupg")
    root = short_tmpdir("pix")
    os.environ["PRACTICE_CLIENT_POLICY"] = str(Path(__file__).parent.parent / "data" / "empty-policy.toml")
    platform = TestbedPlatform(root / "platform").start()
    dkim = DkimKey.generate(DOMAIN, "interop", "ed25519-sha256")
    dns = TxtDnsServer({dkim.record_name: dkim.txt}).start()
    authority = IdentityAuthority.create(root / "ident")
    ident_file = root / "ident.asc"
    ident_file.write_text(authority.public_key(), encoding="utf-8")
    home = root / "client"
    ctx = Context(home=Home(home))
    try:
        result = provision(ctx, SetupParams(
            server_url=platform.url, practice_id=PRACTICE_ID, platform_domain=DOMAIN,
            ident_key_file=ident_file, dns_server=dns.address, ca_file=platform.ca_file,
            export_dir=home / "export", token=platform.token,
        ))
        practice_key = ctx.gpg.export_public(result.practice_key_fingerprint)
    finally:
        ctx.close()
    yield InteropWorld(root, platform, dns, dkim, authority, home, result.practice_key_fingerprint, practice_key)
    platform.stop()
    dns.stop()
    authority.close()
    kill_agents(root)
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def in_world(interop_world: InteropWorld, monkeypatch: pytest.MonkeyPatch) -> InteropWorld:
    """The shared client home as $PRACTICE_CLIENT_HOME, for the commands."""
    monkeypatch.setenv("PRACTICE_CLIENT_HOME", str(interop_world.home))
    return interop_world


@dataclass(frozen=True)
class Ran:
    code: int
    out: str
    err: str

    def json(self) -> dict[str, object]:
        data = json.loads(self.out)
        assert isinstance(data, dict)
        return data


def cli(*args: str) -> Ran:
    """``practice-client ARGS`` in this process (the same ``main`` the console script runs)."""
    from practice_client.cli import main

    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(list(args))
    return Ran(code, out.getvalue(), err.getvalue())


def one_line_error(ran: Ran) -> bool:
    return (ran.code != 0 and ran.err.startswith("practice-client: ") and ran.err.count("\n") == 1
            and "Traceback" not in ran.err)


# -- reading OpenPGP packets with gpg, to check what the suite claims about them -----------


def _gpg_packets(data: bytes) -> str:
    with tempfile.TemporaryDirectory(prefix="pil", dir="/tmp") as home:
        source = Path(home) / "input"
        source.write_bytes(data)
        done = subprocess.run(["gpg", "--homedir", home, "--batch", "--list-packets", "--list-only", str(source)],
                              capture_output=True, timeout=60, check=False)
    return done.stdout.decode("utf-8", "replace")


def recipients(ciphertext: bytes) -> set[str]:
    """The key ids a message is encrypted to (its PKESK packets)."""
    return {line.rsplit("keyid ", 1)[1].strip().upper() for line in _gpg_packets(ciphertext).splitlines()
            if line.startswith(":pubkey enc packet:")}


def signature_issuers(signature: bytes) -> set[str]:
    return {line.rsplit("keyid ", 1)[1].strip().upper() for line in _gpg_packets(signature).splitlines()
            if line.startswith(":signature packet:")}


@dataclass(frozen=True)
class Subkey:
    keyid: str
    fingerprint: str
    validity: str  # "e" expired, "r" revoked, else usable
    capabilities: str


def subkeys(public_key: str) -> list[Subkey]:
    """The subkeys of a certificate as gpg shows them (without importing it)."""
    with tempfile.TemporaryDirectory(prefix="pil", dir="/tmp") as home:
        listing = subprocess.run(["gpg", "--homedir", home, "--batch", "--with-colons", "--show-keys"],
                                 input=public_key.encode(), capture_output=True, timeout=60, check=True).stdout
    (key,) = colon_listing(listing)
    return [Subkey(r.field(4).upper(), f, r.field(1), r.field(11)) for r, f in key.subkeys]


# Erika of tests/support/patients.py as a simulated patient takes her (name, birth date, phone)
ERIKA_PERSON = (ERIKA.name, ERIKA.birth_date, ERIKA.phone)


def set_up(home: Path, ident_key: Path) -> None:
    """``setup --offline`` with this identity key, and Erika in the master data."""
    assert cli("setup", "--server", "https://platform.test", "--practice-id", "praxis-1", "--platform-domain",
               "platform.test", "--ident-key", str(ident_key), "--offline").code == 0
    master = home / "stammdaten.csv"
    master.write_text("patient_number,name,birth_date,phone\n1001,Erika Mustermann,1964-08-12,0171 1234567\n",
                      encoding="utf-8")
    assert cli("patients", "import", str(master)).code == 0


def pinned() -> list[str]:
    pins = cli("trust", "list", "--json").json()["pins"]
    assert isinstance(pins, list)
    return [str(p["fingerprint"]) for p in pins]
