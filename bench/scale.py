"""Scale (part of ``make bench``): the daily commands and the window on a fresh home and on
five years of a busy practice, built by the bench itself through the store.

- the homes: one set up like a new installation (offline, a real practice key), and a
  copy of it with :data:`~practice_client.testbed.history.FIVE_YEARS` of history
  (50,000 documents, 10,000 requests, 5,000 patients, ~290,000 audit entries), every
  change written by the store's own methods (audited, sealed, keyed chain);
- every daily command as an admin's script runs it (a process of its own), the median
  of several runs: ``outbox --json``, ``request list --json``, ``audit verify`` (the
  check of what is new; ``--full`` is shown beside it), ``patients list --json``,
  ``trust list``; target: at most 1.5 x its time on the fresh home;
- matching one export-folder document (in the bench's process: the rules and the store
  lookups a detected file costs, by file name and by GDT record, the median after a
  warm-up) of a patient with a pin and an accepted request: on the fresh home with that
  one patient, then with as many PMS patients as the history has besides; target: at
  most 1.5 x - matching looks up the patients a file names (and those born on their
  day), never every patient. On the five-year home beside it, for information: there
  it also reads the valid requests (accepted, not expired) a busy practice has;
- the window (offscreen, its own process): start to first screen (process start until
  the requests page shows its first rows), a refresh that brings one change made
  meanwhile by another thread (as the agent makes them), the longest stall of the GUI
  thread while refreshes reach the window (a 5 ms timer's longest gap), and the first
  page of every list; targets: start <= 2 s, refresh <= 100 ms, stall <= 50 ms.

``python bench/scale.py`` runs it alone; ``BENCH_QUICK=1`` uses a tenth of the history.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT.parent))

from practice_client.testbed.history import FIVE_YEARS, HistorySize  # noqa: E402

QUICK = os.environ.get("BENCH_QUICK") == "1"
HISTORY = HistorySize(years=5, patients=500, pinned=300, requests=1_000, documents=5_000) if QUICK else FIVE_YEARS
RUNS = 3 if QUICK else 7
REFRESHES = 20 if QUICK else 60
COMMANDS = {
    "outbox --json": ["outbox", "--json"],
    "request list --json": ["request", "list", "--json"],
    "audit verify": ["audit", "verify"],
    "patients list --json": ["patients", "list", "--json"],
    "trust list": ["trust", "list"],
}
TARGETS = {"command_ratio_max": 1.5, "match_ratio": 1.5, "gui_start_s": 2.0, "gui_refresh_ms": 100.0,
           "gui_stall_ms": 50.0}
MATCHES = 20 if QUICK else 100
BENCH_PATIENT = ("990001", "Bench Patientin", "1970-07-07")  # a number the history never uses


def _set_up(home: Path, scratch: Path) -> None:
    """A new installation: settings, a real practice key, the keyring entries (offline)."""
    from practice_client.context import Context
    from practice_client.core.paths import Home
    from practice_client.crypto.gpg import Gpg
    from practice_client.provision import SetupParams, provision

    gpg = Gpg(scratch / "ident")
    fingerprint = gpg.generate_key("Plattform Identitaet", "ident@platform.test", "x" * 16, "ed25519")
    (scratch / "ident.asc").write_text(gpg.export_public(fingerprint), encoding="ascii")
    gpg.kill_agent()
    ctx = Context(home=Home(home))
    try:
        provision(ctx, SetupParams(server_url="https://plattform.example", practice_id="praxis-bench",
                                   platform_domain="plattform.example", ident_key_file=scratch / "ident.asc",
                                   export_dir=scratch / "export", offline=True, practice_name="Praxis Bench"))
    finally:
        ctx.close()


def _fill(home: Path) -> float:
    """Years of history into ``home`` through the store; seconds it took."""
    from practice_client.context import Context
    from practice_client.core.paths import Home
    from practice_client.testbed.history import build_history

    ctx = Context(home=Home(home))
    started = time.perf_counter()
    try:
        changes = build_history(ctx.store, HISTORY, progress=lambda n: print(f"  ... {n} changes", flush=True)
                                if n % 50_000 < 5_000 else None)
        assert ctx.store.verify_audit(full=True).ok  # checked once, as the practice's first start would
    finally:
        ctx.close()
    print(f"  history: {changes} changes in {time.perf_counter() - started:.0f} s", flush=True)
    return time.perf_counter() - started


def _copy(source: Path, target: Path) -> None:
    shutil.copytree(source, target, ignore=lambda _d, names: [n for n in names if n.startswith("S.")])


def _env(home: Path) -> dict[str, str]:
    return {**os.environ, "PRACTICE_CLIENT_HOME": str(home), "QT_QPA_PLATFORM": "offscreen"}


def time_command(home: Path, args: list[str]) -> float:
    """Median wall time of the command in a process of its own."""
    times = []
    for _ in range(RUNS):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "practice_client", *args], env=_env(home), check=True,  # noqa: S603
                       stdout=subprocess.DEVNULL, timeout=600)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def _bench_patient(store: Any) -> None:
    """The patient whose documents :func:`time_matching` matches: PMS record, pin, one
    accepted request (written through the store, as intake and staff would)."""
    import uuid
    from datetime import UTC, datetime, timedelta

    from practice_client.core.models import Patient, Pin, RequestRecord, RequestStatus, Verdict

    number, name, born = BENCH_PATIENT
    if store.get_patient(number) is not None:
        return
    fingerprint, request_id = "B" * 40, str(uuid.uuid4())
    now = datetime.now(UTC)
    store.upsert_patients([Patient(number, name, born, None)], "bench")
    store.pin(Pin(fingerprint, number, name, born, "", "video", "", "", "bench"))
    digest, _new = store.store_message(f"Message-ID: <{request_id}@bench>\r\n\r\n".encode(), "bench")
    summary = {"request_id": request_id, "patient": {"name": name, "birth_date": born, "fingerprint": fingerprint}}
    store.add_request(RequestRecord(
        request_id=request_id, message_sha256=digest, received_at=now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        source="bench", verdict=Verdict.VERIFIED, checks=[], status=RequestStatus.OPEN,
        patient_fingerprint=fingerprint, patient_number=number, summary=summary,
        expires_at=(now + timedelta(days=14)).strftime("%Y-%m-%dT%H:%M:%SZ")))
    store.decide(request_id, RequestStatus.ACCEPTED, None, override=False)


def _more_patients(store: Any, count: int) -> None:
    """``count`` PMS patients besides the bench patient, on other numbers (as a PMS import)."""
    from practice_client.core.models import Patient

    patients = [Patient(str(800000 + n), f"Patientin {n}", f"{1930 + n % 90}-{1 + n % 12:02d}-{1 + n % 28:02d}",
                        None) for n in range(count)]
    for first in range(0, count, 1000):
        store.upsert_patients(patients[first:first + 1000], "bench")


def time_matching(home: Path, more_patients: int = 0) -> float:
    """Median seconds to match one document of the bench patient (file name, then GDT
    record: what a detected file costs, the store's lookups included); ``more_patients``
    PMS patients are imported first."""
    from practice_client.context import Context
    from practice_client.core.paths import Home
    from practice_client.delivery import matching, recipients

    number, name, born = BENCH_PATIENT
    day = f"{born[8:]}{born[5:7]}{born[:4]}"
    first, surname = name.split(" ", 1)
    record = {"3000": number, "3101": surname, "3102": first, "3103": day}
    ctx = Context(home=Home(home))
    try:
        _bench_patient(ctx.store)
        _more_patients(ctx.store, more_patients)
        rule = recipients.name_rule(ctx.config)
        times = []
        for run in range(MATCHES + 2):  # the first two (name, GDT) warm the caches up
            started = time.perf_counter()
            found = matching.match_file(None, f"{number}_{day}_befund.pdf" if run % 2 else "scan.pdf",
                                        None if run % 2 else record, rule, recipients.match_data(ctx))
            times.append(time.perf_counter() - started)
            if not found.matched:
                raise RuntimeError(f"the bench document was not matched: {found.reason.en}")
        return statistics.median(times[2:])
    finally:
        ctx.close()


def measure_window(home: Path) -> dict[str, float]:
    """The GUI figures of one home (see :func:`window_figures`), from a process of its own."""
    started = time.time()
    out = subprocess.run([sys.executable, str(ROOT / "scale.py"), "window", str(started)],  # noqa: S603
                         env=_env(home), capture_output=True, text=True, timeout=900)
    if out.returncode:
        raise RuntimeError(f"the window's measurement failed: {out.stderr[-2000:]}")
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def window_figures(spawned: float) -> dict[str, float]:
    """In the window's process: open it as the app does, then measure (see the module docstring)."""
    import threading

    from PySide6.QtCore import QEventLoop, QTimer

    from practice_client.context import Context
    from practice_client.gui.app import application, build_window
    from practice_client.gui.main_window import PAGES

    ctx = Context()
    app = application(ctx.config.language)
    controller, _tray, window = build_window(ctx)
    window.resize(1280, 800)
    window.show_page("requests")
    window.show()
    controller.refresh()
    requests = window.pages["requests"].model

    def wait(done: Any, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while not done():
            if time.monotonic() > deadline:
                raise RuntimeError("the window did not get there in time")
            app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 5)

    shown: list[bool] = []
    controller.overviewLoaded.connect(lambda _overview: shown.append(True))
    wait(lambda: requests.cursor >= 0 and bool(shown))  # the first rows (or none) and the counts
    figures = {"start_s": time.time() - spawned}
    wait(lambda: not controller.workers.busy)
    for page in PAGES:
        started = time.perf_counter()
        window.show_page(page)
        wait(lambda: not controller.workers.busy)
        figures[f"page_{page}_ms"] = (time.perf_counter() - started) * 1000
    window.show_page("deliveries")
    gaps: list[float] = []
    last = [time.perf_counter()]

    def tick() -> None:
        now = time.perf_counter()
        gaps.append(now - last[0])
        last[0] = now

    ticker = QTimer(interval=5)
    ticker.timeout.connect(tick)
    store = ctx.store
    refreshes: list[float] = []
    loaded: list[float] = []
    controller.overviewLoaded.connect(lambda _overview: loaded.append(time.perf_counter()))
    for number in range(REFRESHES):
        changed = threading.Event()

        def change(number: int, changed: threading.Event) -> None:  # as the agent: its own thread, the same store
            store.record("bench.change", n=number)
            changed.set()

        threading.Thread(target=change, args=(number, changed)).start()
        wait(changed.is_set)
        if number == 0:
            ticker.start()
        started, count = time.perf_counter(), len(loaded)
        controller.refresh()
        wait(lambda count=count: len(loaded) > count)
        refreshes.append((loaded[-1] - started) * 1000)
        wait(lambda: not controller.workers.busy)
    ticker.stop()
    figures["refresh_ms"] = statistics.median(refreshes)
    figures["refresh_max_ms"] = max(refreshes)
    figures["stall_ms"] = max(gaps) * 1000 - 5 if gaps else 0.0
    controller.shutdown()
    window.close()
    ctx.close()
    return figures


def measure_scale(results: dict[str, float]) -> list[tuple[str, str, str, str]]:
    """Build the homes, measure both, put the figures into ``results``; the table rows
    (what, fresh, five years, ratio or target)."""
    scratch = Path(tempfile.mkdtemp(prefix="pcb", dir="/tmp"))
    fresh, aged = scratch / "fresh", scratch / "aged"
    rows: list[tuple[str, str, str, str]] = []
    try:
        _set_up(fresh, scratch)
        _copy(fresh, aged)
        print("scale: building five years of history through the store ...", flush=True)
        results["scale_build_s"] = _fill(aged)
        for home in (fresh, aged):  # the check of what is new starts where the last one ended
            subprocess.run([sys.executable, "-m", "practice_client", "audit", "verify"],  # noqa: S603
                           env=_env(home), check=True, stdout=subprocess.DEVNULL, timeout=600)
        ratios = []
        for name, args in {**COMMANDS, "audit verify --full": ["audit", "verify", "--full"]}.items():
            young, old = time_command(fresh, args), time_command(aged, args)
            key = name.replace(" --", "_").replace(" ", "_")
            results[f"scale_{key}_fresh_s"], results[f"scale_{key}_aged_s"] = young, old
            if name in COMMANDS:
                ratios.append(old / young)
            rows.append((name, f"{young:.2f} s", f"{old:.2f} s",
                         f"{old / young:.2f} x" + ("" if name in COMMANDS else " (not daily)")))
            print(f"  {name}: {young:.2f} s fresh, {old:.2f} s after five years", flush=True)
        results["scale_command_ratio_max"] = max(ratios)
        windows = {label: measure_window(home) for label, home in (("fresh", fresh), ("aged", aged))}
        for key, label, unit in (("start_s", "GUI start to first screen", "s"),
                                 ("refresh_ms", "GUI refresh (one change)", "ms"),
                                 ("stall_ms", "longest GUI-thread stall", "ms"),
                                 *((f"page_{p}_ms", f"  first page: {p}", "ms") for p in
                                   ("requests", "deliveries", "patients", "audit"))):
            young, old = windows["fresh"][key], windows["aged"][key]
            results[f"scale_gui_{key}_fresh"], results[f"scale_gui_{key}_aged"] = young, old
            rows.append((label, f"{young:.2f} {unit}" if unit == "s" else f"{young:.0f} {unit}",
                         f"{old:.2f} {unit}" if unit == "s" else f"{old:.0f} {unit}", ""))
        # last: these add patients to the homes
        few, many = time_matching(fresh), time_matching(fresh, HISTORY.patients)
        results["scale_match_few_ms"], results["scale_match_many_ms"] = few * 1000, many * 1000
        results["scale_match_ratio"] = many / few
        results["scale_match_aged_ms"] = time_matching(aged) * 1000
        rows.append((f"match 1 doc, +{HISTORY.patients} patients", f"{few * 1000:.2f} ms", f"{many * 1000:.2f} ms",
                     f"{many / few:.2f} x"))
        rows.append(("match 1 doc, 5-year home", f"{few * 1000:.2f} ms", f"{results['scale_match_aged_ms']:.2f} ms",
                     "(valid requests grow)"))
        print(f"  match one document: {few * 1000:.2f} ms with one patient, {many * 1000:.2f} ms with "
              f"{HISTORY.patients} more, {results['scale_match_aged_ms']:.2f} ms after five years", flush=True)
        results["scale_gui_start_s"] = windows["aged"]["start_s"]
        results["scale_gui_refresh_ms"] = windows["aged"]["refresh_ms"]
        results["scale_gui_stall_ms"] = windows["aged"]["stall_ms"]
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return rows


def print_scale(rows: list[tuple[str, str, str, str]], results: dict[str, float]) -> None:
    print(f"\n{'scale: five years of history':<30}{'fresh':>12}{'5 years':>12}   ratio")
    for name, young, old, ratio in rows:
        print(f"{name:<30}{young:>12}{old:>12}   {ratio}")
    print()
    for key, target in TARGETS.items():
        value = results[f"scale_{key}"]
        print(f"{'scale_' + key:<30}{value:>12.2f}   target <= {target}")


def main() -> int:
    results: dict[str, float] = {}
    rows = measure_scale(results)
    print_scale(rows, results)
    (ROOT / "results-scale.json").write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    return 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["window"]:
        print(json.dumps(window_figures(float(sys.argv[2]))))
        sys.exit(0)
    sys.exit(main())
