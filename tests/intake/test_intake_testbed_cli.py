"""The whole intake path through the command line, as an admin would try it: testbed
authority and patient, setup, master data, trust import, ``testbed patient request``,
``testbed dns`` serving the platform's DKIM key, then ``request verify``."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.cli import run_cli as run


def ok(*args: str, stdin: str | None = None) -> str:
    result = run(*args, stdin=stdin)
    assert result.returncode == 0, (args, result.stderr)
    return result.stdout


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.slow
def test_testbed_request_and_dns_through_the_command_line(client_home: Path, work_dir: Path) -> None:
    port = free_udp_port()
    ok("testbed", "authority", "create", "--dir", str(work_dir / "a"))
    ok("testbed", "patient", "create", "--dir", str(work_dir / "p"), "--name", "Erika Mustermann",
       "--birth-date", "1964-08-12", "--phone", "+491711234567")
    ok("testbed", "patient", "certificate", "--dir", str(work_dir / "p"), "--authority", str(work_dir / "a"),
       "--output", str(work_dir / "e.trust.asc"))
    ok("setup", "--server", "https://127.0.0.1:1", "--practice-id", "praxis-1", "--platform-domain",
       "plattform.example", "--ident-key", str(work_dir / "a" / "ident.asc"), "--dns-server", f"127.0.0.1:{port}",
       "--offline", "--token-stdin", stdin="token-123456789\n")
    (work_dir / "pms.csv").write_text("patient_number,name,birth_date,phone\n"
                                      "1001,Erika Mustermann,1964-08-12,0171 1234567\n")
    ok("patients", "import", str(work_dir / "pms.csv"))
    ok("trust", "import", str(work_dir / "e.trust.asc"), "--patient-number", "1001", "--yes")
    platform = work_dir / "plat"
    ok("testbed", "patient", "request", "--dir", str(work_dir / "p"), "--platform-data", str(platform),
       "--practice-id", "praxis-1", "--output", str(work_dir / "good.eml"))
    ok("testbed", "patient", "request", "--dir", str(work_dir / "p"), "--platform-data", str(platform),
       "--practice-id", "praxis-1", "--phone", "+491729999999", "--output", str(work_dir / "phone.eml"))

    dns = subprocess.Popen([sys.executable, "-m", "practice_client", "testbed", "dns", "--platform-data",
                            str(platform), "--port", str(port)], stdout=subprocess.PIPE, text=True,
                           env=os.environ.copy())
    try:
        assert dns.stdout is not None and dns.stdout.readline().startswith("DNS: 127.0.0.1:")  # serving
        good = run("request", "verify", str(work_dir / "good.eml"), "--json")
        assert good.returncode == 0, good.stdout + good.stderr
        assert json.loads(good.stdout)["verdict"] == "verified"
        bad = run("request", "verify", str(work_dir / "phone.eml"), "--json")
        assert bad.returncode == 1
        phone = next(c for c in json.loads(bad.stdout)["checks"] if c["name"] == "phone")
        assert phone["status"] == "fail"
    finally:
        dns.send_signal(signal.SIGTERM)
        assert dns.wait(timeout=20) == 0
