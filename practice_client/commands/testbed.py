"""``testbed platform|patient``: the reference platform and the simulated patient app."""

from __future__ import annotations

import argparse

from practice_client.commands import stop_on_signals, testbed_patient, testbed_request
from practice_client.core.text import Text


def _run_platform(args: argparse.Namespace) -> int:
    """Serve in the foreground until SIGTERM or Ctrl-C, then shut down cleanly."""
    from pathlib import Path

    from practice_client.core.errors import InputError
    from practice_client.testbed.platform import TestbedPlatform

    data = Path(args.data)
    if data.exists() and not data.is_dir():
        raise InputError(data, "the platform data folder is not a directory")
    if not 0 <= args.port < 65536:
        raise InputError(str(args.port), "--port must be 0..65535")
    with stop_on_signals() as stop:
        platform = TestbedPlatform(data, args.port)
        try:
            platform.start()
        except (OSError, RuntimeError) as exc:
            raise InputError(f"127.0.0.1:{args.port}", f"cannot serve: {exc}") from None
        try:
            print(f"Plattform / platform: {platform.url}", flush=True)
            print(f"CA: {platform.ca_file}  token: {data / 'token'}", flush=True)
            while not stop.wait(3600):
                pass
        finally:
            platform.stop()
        print(Text("Plattform beendet", "platform stopped"), flush=True)
    return 0


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("testbed", help="reference platform and simulated patient (demo, tests)")
    s = p.add_subparsers(dest="action", required=True)
    plat = s.add_parser("platform", help="serve the platform API over HTTPS on loopback")
    plat.add_argument("--data", required=True, metavar="DIR")
    plat.add_argument("--port", type=int, default=0)
    plat.set_defaults(func=_run_platform)
    testbed_patient.register(s)
    testbed_request.register_dns(s)
