"""RFC 8463 Appendix A, a known-answer vector: the ed25519-sha256 signature passes the
dkim check when football.example.com is the platform domain and the loopback DNS
serves the published keys; its 1024-bit RSA signature alone is refused."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from practice_client.core.models import CheckStatus
from practice_client.intake.dkim_check import check_dkim, dns_resolver
from practice_client.testbed.dns import TxtDnsServer

MESSAGE = (Path(__file__).parent / "data" / "rfc8463-appendix-a.eml").read_bytes()
SIGNED_AT = 1528637909  # t= of both signatures
RECORDS = {
    "brisbane._domainkey.football.example.com": "v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=",
    "test._domainkey.football.example.com": (
        "v=DKIM1; k=rsa; p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDkHlOQoBTzWR"
        "iGs5V6NpP3idY6Wk08a5qhdR6wy5bdOKb2jLQiY/J16JYi0Qvx/byYzCNb3W91y3FutAC"
        "DfzwQ/BC/e/8uBsCR+yz1Lxj+PL6lHvqMKrM3rG4hstT5QjvHO9PzoxZyVYLzBfO2EeC3"
        "Ip3G+2kryOTIKT+l/K4w3QIDAQAB"
    ),
}


@pytest.fixture
def rfc_dns(dns_server: TxtDnsServer) -> Iterator[str]:
    for name, value in RECORDS.items():
        dns_server.set_txt(name, value)
    yield dns_server.address
    for name in RECORDS:
        dns_server.remove(name)


def signatures(raw: bytes) -> list[bytes]:
    return re.findall(rb"DKIM-Signature:.*?\r\n(?=\S)", raw, re.DOTALL)


def test_rfc8463_ed25519_message_passes(rfc_dns: str) -> None:
    outcome = check_dkim(MESSAGE, "football.example.com", dns_resolver(rfc_dns), SIGNED_AT + 60)
    assert outcome.check.status is CheckStatus.PASS, outcome.check
    assert outcome.domain == "football.example.com"


def test_rfc8463_only_for_its_own_domain(rfc_dns: str) -> None:
    outcome = check_dkim(MESSAGE, "platform.test", dns_resolver(rfc_dns), SIGNED_AT + 60)
    assert outcome.check.status is CheckStatus.FAIL


def test_rfc8463_rsa_1024_signature_alone_is_refused(rfc_dns: str) -> None:
    ed_sig, rsa_sig = signatures(MESSAGE)
    rsa_only = MESSAGE.replace(ed_sig, b"")
    ed_only = MESSAGE.replace(rsa_sig, b"")
    resolver = dns_resolver(rfc_dns)
    import dkim

    assert dkim.verify(rsa_only, dnsfunc=resolver)  # dkimpy alone accepts the 1024-bit key
    refused = check_dkim(rsa_only, "football.example.com", resolver, SIGNED_AT + 60)
    assert refused.check.status is CheckStatus.FAIL and "too short" in refused.check.detail_en
    assert check_dkim(ed_only, "football.example.com", resolver, SIGNED_AT + 60).check.status is CheckStatus.PASS


def test_rfc8463_with_a_clock_before_signing_is_refused(rfc_dns: str) -> None:
    outcome = check_dkim(MESSAGE, "football.example.com", dns_resolver(rfc_dns), SIGNED_AT - 3600)
    assert outcome.check.status is CheckStatus.FAIL and "future" in outcome.check.detail_en


def test_rfc8463_altered_body_fails(rfc_dns: str) -> None:
    altered = MESSAGE.replace(b"We lost the game.", b"We won the game.")
    outcome = check_dkim(altered, "football.example.com", dns_resolver(rfc_dns), SIGNED_AT + 60)
    assert outcome.check.status is CheckStatus.FAIL
