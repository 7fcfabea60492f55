"""``service run|pair|unpair|workstations|status|credential|adopt`` and ``connect``:
one practice service, many workstations.

``service run`` is what the OS starts (the systemd unit's ``ExecStart``, the LaunchDaemon,
the Windows service). The admin commands talk to the running service on its own
machine: they read its endpoint, certificate and control token from its home, which only
the service's account and administrators can read. ``connect`` runs at a workstation.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from practice_client.commands import print_json
from practice_client.core.errors import InputError
from practice_client.core.paths import Home
from practice_client.service.control import control
from practice_client.service.files import DEFAULT_PORT, ServiceFiles, default_service_home


def _home(args: argparse.Namespace) -> Home:
    return Home(Path(args.home).absolute()) if args.home else default_service_home()


def _listen(value: str) -> tuple[str, int]:
    from practice_client.service.connection import parse_address

    return parse_address(value, DEFAULT_PORT, any_port=True)


def _run(args: argparse.Namespace) -> int:
    from practice_client.gui.local_source import service_views
    from practice_client.service.daemon import PracticeService

    host, port = _listen(args.listen)
    home = _home(args)
    if args.windows_service:  # started by the Windows service control manager
        from practice_client.service.windows import dispatch

        return dispatch(home.root, lambda: PracticeService(home, host, port, views=service_views))
    PracticeService(home, host, port, views=service_views).run()
    return 0


def _pair(args: argparse.Namespace) -> int:
    answer = control(_home(args), "POST", "/v1/control/pair", {"role": args.role, "name": args.name or ""})
    if args.json:
        print_json(answer)
        return 0
    minutes = int(answer["expires_in"]) // 60
    print(f"Kopplungscode / pairing code:  {answer['code']}")
    print(f"Am Arbeitsplatz eingeben (practice-client connect ADRESSE) - gültig {minutes} Minuten, "
          f"{answer['attempts']} Versuche, einmal verwendbar /")
    print(f"enter it at the workstation (practice-client connect ADDRESS) - valid for {minutes} minutes, "
          f"{answer['attempts']} attempts, single use")
    return 0


def _unpair(args: argparse.Namespace) -> int:
    answer = control(_home(args), "POST", "/v1/control/unpair", {"workstation_id": args.workstation_id})
    print(f"Arbeitsplatz entkoppelt / workstation unpaired: {answer['name']} ({answer['workstation_id']})")
    return 0


def _workstations(args: argparse.Namespace) -> int:
    answer = control(_home(args), "GET", "/v1/control/workstations")
    if args.json:
        print_json(answer)
        return 0
    for ws in answer["workstations"]:
        state = f"entkoppelt / unpaired {ws['revoked_at']}" if ws["revoked_at"] else "gekoppelt / paired"
        print(f"{ws['workstation_id']}  {ws['role']:5}  {ws['name']}  ({state}, {ws['paired_at']})")
    return 0


def _status(args: argparse.Namespace) -> int:
    print_json(control(_home(args), "GET", "/v1/control/status"))
    return 0


def _credential(args: argparse.Namespace) -> int:
    from practice_client.service.vault import create_systemd_credential

    create_systemd_credential(Path(args.create))
    print(f"Tresorschlüssel angelegt / vault key created: {args.create}")
    return 0


def _adopt(args: argparse.Namespace) -> int:
    from practice_client.core.policy import read_policy
    from practice_client.core.secrets import Secrets
    from practice_client.service.adopt import adopt
    from practice_client.service.vault import Vault, os_key_provider

    source = Home(Path(args.source).expanduser().absolute())
    if not source.root.is_dir():
        raise InputError(args.source, "no such folder")
    target = _home(args)
    files = ServiceFiles(target)
    files.folder.mkdir(parents=True, mode=0o700, exist_ok=True)
    if sys.platform == "win32":  # pragma: no cover - Windows only
        from practice_client.service.windows import secure_folder

        secure_folder(target.root)
    vault = Vault(files.vault, os_key_provider(files.folder))
    vault.check()
    done = adopt(source, Secrets(source.instance_id()), target, vault, read_policy())
    print(f"Übernommen / adopted: {source.root} -> {target.root} (practice key {done.practice_key}, "
          f"{done.requests} requests, {done.documents} documents)")
    print(f"Die alten Daten liegen in / the old data was moved to: {done.moved_aside}")
    return 0


def _connect(args: argparse.Namespace) -> int:
    from practice_client.context import Context
    from practice_client.service.workstation import connect_workstation

    code = args.code or _ask_code()
    ctx = Context()
    try:
        connection = connect_workstation(ctx.home, ctx.secrets, args.address, code, _user())
    finally:
        ctx.close()
    print(f"Verbunden / connected: {connection.address} as '{connection.name}' ({connection.role}), "
          f"service key sha256/{connection.pin}")
    return 0


def _ask_code() -> str:
    if not sys.stdin.isatty():
        line = sys.stdin.readline().strip()
        if not line:
            raise InputError("--code", "no pairing code given (--code or one line on stdin)")
        return line
    return input("Kopplungscode / pairing code: ")


def _user() -> str:
    import getpass

    try:
        return getpass.getuser()[:64]
    except Exception:  # no user name in this environment
        return "?"


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    svc = subparsers.add_parser("service", help="the practice service (one per practice) and its workstations")
    sub = svc.add_subparsers(dest="service_command", metavar="ACTION", required=True)

    def add(name: str, help_text: str, func: Any) -> argparse.ArgumentParser:
        parser: argparse.ArgumentParser = sub.add_parser(name, help=help_text)
        parser.add_argument("--home", help="the service's data folder (default: the OS's place for it)")
        parser.set_defaults(func=func)
        return parser

    run = add("run", "run the practice service until stopped (what the OS service starts)", _run)
    run.add_argument("--listen", default=f"0.0.0.0:{DEFAULT_PORT}", help="HOST:PORT to listen on")
    run.add_argument("--windows-service", action="store_true", help=argparse.SUPPRESS)
    pair = add("pair", "show a one-time code that pairs a workstation", _pair)
    pair.add_argument("--role", choices=("staff", "admin"), default="staff")
    pair.add_argument("--name", help="the workstation's name in the audit log (default: its host name)")
    pair.add_argument("--json", action="store_true")
    unpair = add("unpair", "revoke a workstation's credential", _unpair)
    unpair.add_argument("workstation_id")
    lst = add("workstations", "list the paired workstations", _workstations)
    lst.add_argument("--json", action="store_true")
    add("status", "the running service's state (JSON)", _status)
    cred = add("credential", "create the vault key as a systemd credential (the installer, as root)", _credential)
    cred.add_argument("--create", metavar="FILE", required=True)

    adopt = add("adopt", "take over an existing single-user home (service stopped; see docs/admin.md)", _adopt)
    adopt.add_argument("--from", dest="source", required=True, metavar="HOME",
                       help="the home to adopt (its user's OS keyring holds its secrets)")

    connect = subparsers.add_parser("connect", help="pair this workstation with the practice service")
    connect.add_argument("address", help="the service's HOST or HOST:PORT")
    connect.add_argument("--code", help="the pairing code (else asked for, or one line on stdin)")
    connect.set_defaults(func=_connect)
