"""Real proxies on loopback, as practice networks run them: tinyproxy with Basic
authentication, squid with NTLM (its ntlm_fake_auth helper accepts any account but runs
the real three-leg handshake on one connection). Each in its own folder, stopped after."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from tests.conftest import require
from tests.intake.dovecot import _free_port
from tests.support.waiting import wait_listening

USER = "praxis-proxy"
PASSWORD = "proxy-pw-2718"  # noqa: S105


def _wait_listening(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    wait_listening(port, process, "proxy",
                   output=lambda: log.read_text(errors="replace")[-2000:] if log.exists() else "")


@dataclass
class RunningProxy:
    url: str
    port: int
    log: Path
    process: subprocess.Popen[bytes]

    def connects(self) -> list[str]:
        """The CONNECT targets the proxy logged (tinyproxy and squid both log them)."""
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return [line for line in text.splitlines() if "CONNECT" in line]

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)


def start_tinyproxy(root: Path, basic_auth: bool = True) -> RunningProxy:
    require(shutil.which("tinyproxy") is not None, "tinyproxy (apt-get install tinyproxy)")
    nobody = pwd.getpwnam("nobody")
    root.mkdir(parents=True, exist_ok=True)
    os.chown(root, nobody.pw_uid, nobody.pw_gid)
    port = _free_port()
    log = root / "tinyproxy.log"
    lines = [f"Port {port}", "Listen 127.0.0.1", "Timeout 60", "MaxClients 20", "LogLevel Connect",
             f'LogFile "{log}"', "Allow 127.0.0.1", "DisableViaHeader Yes", "User nobody", "Group nogroup"]
    if basic_auth:
        lines.append(f"BasicAuth {USER} {PASSWORD}")
    conf = root / "tinyproxy.conf"
    conf.write_text("\n".join(lines) + "\n")
    process = subprocess.Popen(["tinyproxy", "-d", "-c", str(conf)], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    _wait_listening(port, process, log)
    return RunningProxy(f"http://127.0.0.1:{port}", port, log, process)


def start_squid_ntlm(root: Path) -> RunningProxy:
    require(shutil.which("squid") is not None and Path("/usr/lib/squid/ntlm_fake_auth").exists(),
            "squid with ntlm_fake_auth (apt-get install squid)")
    proxy_user = pwd.getpwnam("proxy")
    root.mkdir(parents=True, exist_ok=True)
    os.chown(root, proxy_user.pw_uid, proxy_user.pw_gid)
    port = _free_port()
    log = root / "access.log"
    conf = root / "squid.conf"
    conf.write_text("\n".join([
        f"http_port 127.0.0.1:{port}",
        f"pid_filename {root}/squid.pid", f"cache_log {root}/cache.log", f"access_log {log}",
        f"coredump_dir {root}", "cache deny all", "shutdown_lifetime 0 seconds",
        "cache_effective_user proxy", "workers 1",
        "auth_param ntlm program /usr/lib/squid/ntlm_fake_auth", "auth_param ntlm children 2",
        "acl authed proxy_auth REQUIRED", "http_access allow authed", "http_access deny all",
    ]) + "\n")
    process = subprocess.Popen(["squid", "-N", "-f", str(conf)], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    _wait_listening(port, process, root / "cache.log")
    return RunningProxy(f"http://127.0.0.1:{port}", port, log, process)
