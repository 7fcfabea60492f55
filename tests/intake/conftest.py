"""Fixtures for intake: a loopback DNS server with the platform's DKIM keys (and the
keys of attackers), simulated patients with trust certificates, and a client home
configured for the platform domain with those patients pinned.

Slow parts (DNS server, key generation) are session-scoped; every test gets its
own client home."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from practice_client.context import Context
from practice_client.core.models import Patient, Pin
from practice_client.intake.dkim_check import DnsFunc, dns_resolver
from practice_client.intake.verify import Verification, verify_message
from practice_client.testbed.dns import TxtDnsServer
from practice_client.testbed.identity import IdentityAuthority
from practice_client.testbed.mail import DkimKey, build_message, dkim_sign, request_json
from practice_client.testbed.patient import SimulatedPatient
from tests.conftest import kill_agents, require, short_tmpdir
from tests.support.outlook import outlook_writer  # noqa: F401 - a fixture of the .msg tests
from tests.support.patients import ERIKA

PLATFORM = "platform.test"
PRACTICE_ID = "praxis-4711"


@dataclass
class Keys:
    rsa: DkimKey
    ed25519: DkimKey
    foreign: DkimKey  # a valid key of another domain (attacker's own domain)
    rsa1024: DkimKey  # the platform domain, but a weak key
    sha1: DkimKey  # the platform domain, rsa-sha1


@dataclass
class Party:
    patient: SimulatedPatient
    number: str
    certificate: str


@dataclass
class Parties:
    erika: Party
    max: Party
    stranger: SimulatedPatient  # has a key, but no pin at this practice


@pytest.fixture(scope="session")
def dns_server() -> Iterator[TxtDnsServer]:
    try:
        import dnslib  # noqa: F401
    except ImportError:
        require(False, "dnslib (DNS server on loopback)")
    with TxtDnsServer() as server:
        yield server


@pytest.fixture(scope="session")
def dkim_keys(dns_server: TxtDnsServer) -> Keys:
    keys = Keys(
        rsa=DkimKey.generate(PLATFORM, "rsa2026"),
        ed25519=DkimKey.generate(PLATFORM, "ed2026", "ed25519-sha256"),
        foreign=DkimKey.generate("plattform-service.test", "mail"),
        rsa1024=DkimKey.generate(PLATFORM, "weak", rsa_bits=1024),
        sha1=DkimKey.generate(PLATFORM, "old", "rsa-sha1"),
    )
    for key in (keys.rsa, keys.ed25519, keys.foreign, keys.rsa1024, keys.sha1):
        dns_server.set_txt(key.record_name, key.txt)
    return keys


@pytest.fixture(scope="session")
def parties() -> Iterator[Parties]:
    require(shutil.which("gpg") is not None, "gpg")
    root = short_tmpdir("pci")
    with ThreadPoolExecutor(4) as pool:  # gpg key generation mostly waits: do it side by side
        authority_f = pool.submit(IdentityAuthority.create, root / "ident")
        erika_f = pool.submit(SimulatedPatient.create, root / "erika", ERIKA.name, ERIKA.birth_date, ERIKA.phone)
        max_f = pool.submit(SimulatedPatient.create, root / "max", "Max Muster", "1970-01-02", "+491609876543")
        stranger_f = pool.submit(SimulatedPatient.create, root / "str", "Eve Fremd", "1980-05-05",
                                 "+491511111111")
        authority, erika, maxp, stranger = (f.result() for f in (authority_f, erika_f, max_f, stranger_f))
    yield Parties(
        Party(erika, ERIKA.patient_number, erika.trust_certificate(authority)),
        Party(maxp, "1002", maxp.trust_certificate(authority)),
        stranger,
    )
    kill_agents(root)
    shutil.rmtree(root, ignore_errors=True)


def pin_of(party: Party) -> Pin:
    p = party.patient
    return Pin(p.fingerprint, party.number, p.name, p.birth_date, p.phone, "video",
               "2026-11-01T10:00:00Z", "2026-11-02T10:00:00Z", party.certificate)


@dataclass
class World:
    """A configured client home plus the means to build (hostile) request messages."""

    ctx: Context
    keys: Keys
    parties: Parties
    dns: TxtDnsServer
    now: datetime = field(default_factory=lambda: datetime.now(UTC).replace(microsecond=0))

    @property
    def dnsfunc(self) -> DnsFunc:
        return dns_resolver(self.dns.address, timeout=2.0)

    def request(self, who: SimulatedPatient | None = None, **overrides: Any) -> bytes:
        who = who or self.parties.erika.patient
        fields: dict[str, Any] = {
            "practice_id": PRACTICE_ID, "name": who.name, "birth_date": who.birth_date,
            "phone": who.phone, "fingerprint": who.fingerprint, "now": self.now,
        }
        fields.update(overrides)
        return request_json(**fields)

    def message(
        self,
        request: bytes | None = None,
        *,
        signer: SimulatedPatient | None = None,
        key: DkimKey | None = None,
        sender: str = f"Plattform <anfragen@{PLATFORM}>",
        text: str | None = None,
        headers: tuple[str, ...] | None = None,
        length: bool = False,
        dkim_domain: str | None = None,
        timestamps: tuple[int, int] | None = None,
    ) -> bytes:
        request = request if request is not None else self.request()
        signer = signer or self.parties.erika.patient
        unsigned = build_message(request, signer.sign(request), sender=sender,
                                 recipient="praxis@example.org", text=text)
        extra: dict[str, Any] = {"length": length, "domain": dkim_domain, "timestamps": timestamps}
        if headers is not None:
            extra["headers"] = headers
        return dkim_sign(unsigned, key or self.keys.rsa, **extra)

    def verify(self, raw: bytes, now: datetime | None = None) -> Verification:
        return verify_message(raw, config=self.ctx.config, store=self.ctx.store,
                              dnsfunc=self.dnsfunc, now=now or self.now)


@pytest.fixture
def world(client_home: Path, dkim_keys: Keys, parties: Parties, dns_server: TxtDnsServer) -> Iterator[World]:
    ctx = Context()
    ctx.update_config(practice_id=PRACTICE_ID, platform_domain=PLATFORM, dns_server=dns_server.address,
                      export_dir=str(client_home / "export"))
    (client_home / "export").mkdir()
    ctx.store.upsert_patients(
        [Patient(p.number, p.patient.name, p.patient.birth_date, p.patient.phone)
         for p in (parties.erika, parties.max)],
        "test",
    )
    ctx.store.pin(pin_of(parties.erika))
    ctx.store.pin(pin_of(parties.max))
    yield World(ctx, dkim_keys, parties, dns_server)
    ctx.close()


def check_of(result: Verification, name: str) -> Any:
    matches = [c for c in result.checks if c.name == name]
    assert len(matches) == 1, result.checks
    return matches[0]


@pytest.fixture(scope="session")
def dovecot() -> Iterator[Any]:
    from .dovecot import Dovecot

    require(shutil.which("dovecot") is not None, "dovecot (dovecot-imapd)")
    server = Dovecot.start(short_tmpdir("pcd"))
    yield server
    server.stop()


@pytest.fixture
def practice_key(world: World) -> str:
    """The practice's own key in the world's home (decisions are signed with it); its public key."""
    from practice_client.crypto.practice_key import ensure_practice_key

    fingerprint, _ = ensure_practice_key(world.ctx, "Praxis Test", "ed25519")
    return world.ctx.gpg.export_public(fingerprint)
