"""Pairing: the one-time code authenticates the service's certificate to the workstation and
the workstation to the service; a man in the middle, a wrong code, a used or expired code
pair nothing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from practice_client.core.errors import InputError
from practice_client.service import pairing
from practice_client.service.client import NotPaired, ServiceClient, WrongService
from practice_client.service.connection import load_connection
from practice_client.service.pairing import Offers, PairingRefused, pair_with_service
from tests.support.relay import TlsMitm
from tests.support.service import ServiceProcess

CLAIMS = {"hostname": "sprechzimmer", "os_user": "dr.a"}


def workstations(service: ServiceProcess) -> list[dict[str, object]]:
    return list(service.control("GET", "/v1/control/workstations")["workstations"])


def test_connect_pairs_with_a_code_and_keeps_the_credential_in_the_keyring(
        service: ServiceProcess, client_home: Path) -> None:
    out = subprocess.run([sys.executable, "-m", "practice_client", "service", "pair", "--home", str(service.home),
                          "--name", "Empfang", "--json"], capture_output=True, text=True, env=service.env(), check=True)
    code = json.loads(out.stdout)["code"]
    result = subprocess.run([sys.executable, "-m", "practice_client", "connect", f"127.0.0.1:{service.port}"],
                            input=code + "\n", capture_output=True, text=True, env=dict(os.environ), timeout=120)
    assert result.returncode == 0, result.stderr
    assert "Empfang" in result.stdout
    from practice_client.core.paths import Home
    from practice_client.core.secrets import Secrets
    from practice_client.service.connection import SERVICE_CREDENTIAL

    home = Home(client_home)
    connection = load_connection(home)
    assert connection is not None and connection.pin == json.loads(service.files.endpoint.read_text())["pin"]
    credential = Secrets(home.instance_id()).get(SERVICE_CREDENTIAL)
    assert credential and credential not in (client_home / "service-connection.json").read_text()
    assert ServiceClient(connection, credential).me()["name"] == "Empfang"
    [paired] = workstations(service)
    assert paired["name"] == "Empfang" and paired["role"] == "staff"
    # the code was used once
    again = subprocess.run([sys.executable, "-m", "practice_client", "connect", f"127.0.0.1:{service.port}"],
                           input=code + "\n", capture_output=True, text=True,
                           env=dict(os.environ, PRACTICE_CLIENT_HOME=str(client_home / "other")), timeout=120)
    assert again.returncode != 0 and again.stderr.count("\n") == 1


def test_a_man_in_the_middle_with_the_right_code_pairs_nothing(service: ServiceProcess) -> None:
    """The attacker relays every byte but shows his own certificate: the code confirms the
    service's pin, which is not the one the workstation saw - refused before the credential."""
    mitm = TlsMitm(service.port)
    try:
        with pytest.raises(PairingRefused, match="someone between"):
            pair_with_service("127.0.0.1", mitm.port, service.code(), CLAIMS)
    finally:
        mitm.close()
    assert workstations(service) == []


def test_wrong_codes_use_up_the_attempts(service: ServiceProcess) -> None:
    code = service.code()
    slot, digits = code[:2], code[3:].replace("-", "")
    wrong = f"{slot}-{(int(digits) + 1) % 10**8:08d}"
    for _ in range(pairing.ATTEMPTS):
        with pytest.raises(PairingRefused):
            pair_with_service("127.0.0.1", service.port, wrong[:7] + "-" + wrong[7:], CLAIMS)
    with pytest.raises(PairingRefused):  # the right code no longer works
        pair_with_service("127.0.0.1", service.port, code, CLAIMS)
    assert workstations(service) == []


def test_codes_expire_and_are_single_use() -> None:
    now = [1000.0]
    offers = Offers("pin", clock=lambda: now[0])
    code = offers.create("staff", "Labor")
    slot, password = pairing.parse_code(code)
    now[0] += pairing.LIFETIME_SECONDS + 1
    from spake2 import SPAKE2_A

    with pytest.raises(PairingRefused):
        offers.start(slot, SPAKE2_A(password, idA=pairing.ID_WORKSTATION, idB=pairing.ID_SERVICE).start(), {})
    with pytest.raises(InputError):
        pairing.parse_code("12-34")


def test_an_unpaired_workstation_is_refused_at_once(service: ServiceProcess) -> None:
    client = service.workstation(name="Labor")
    assert client.me()["name"] == "Labor"
    [ws] = workstations(service)
    service.control("POST", "/v1/control/unpair", {"workstation_id": ws["workstation_id"]})
    with pytest.raises(NotPaired, match="unpaired"):
        client.me()
    forged = ServiceClient(client.connection, "not-the-credential")
    with pytest.raises(NotPaired):
        forged.me()


def test_a_wrong_service_certificate_is_refused_before_anything_is_sent(service: ServiceProcess) -> None:
    client = service.workstation()
    mitm = TlsMitm(service.port)
    try:
        from dataclasses import replace

        elsewhere = ServiceClient(replace(client.connection, port=mitm.port), "x")
        with pytest.raises(WrongService):
            elsewhere.me()
        assert mitm.client_bytes == 0  # not even the request line, let alone the credential
    finally:
        mitm.close()


def test_admin_control_needs_the_token(service: ServiceProcess) -> None:
    import http.client

    from practice_client.service.tls import client_context

    context = client_context(service.files.cert.read_bytes())
    conn = http.client.HTTPSConnection("127.0.0.1", service.port, context=context)
    conn.request("POST", "/v1/control/pair", b"{}", {"Authorization": "Control guessed"})
    assert conn.getresponse().status == 403
