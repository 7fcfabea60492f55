"""The real ``practice-client`` process on a real X server with a tray: it opens the
window, a second start hands over to it and exits, and SIGTERM ends it cleanly (the
window would only hide to the tray; the agent is stopped)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

from practice_client.context import Context
from practice_client.gui.single_instance import SingleInstance
from tests.support.waiting import wait_for


def start(env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-X", "faulthandler", "-m", "practice_client"], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def finish(process: subprocess.Popen[str], timeout: float) -> int:
    """The exit code; on a hang, the stacks (faulthandler on SIGABRT) are the failure message."""
    try:
        process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGABRT)
        _, err = process.communicate()
        raise AssertionError(f"the app did not end:\n{err[-4000:]}") from None
    return process.returncode


def wait_until_running(instance_id: str, process: subprocess.Popen[str], timeout: float = 60.0) -> None:
    probe = SingleInstance(instance_id)

    def listening() -> bool:
        assert process.poll() is None, "the app ended early"
        return probe.notify_running()

    wait_for(listening, timeout, "the app to listen", interval=0.05)


def test_second_start_hands_over_and_sigterm_quits_cleanly(qapp, client: Context, x_display: str) -> None:  # noqa: F811
    env = {**os.environ, "DISPLAY": x_display, "QT_QPA_PLATFORM": "xcb"}
    first = start(env)
    try:
        wait_until_running(client.home.instance_id(), first)
        assert finish(start(env), 60) == 0, "the second start hands over and exits"
        assert first.poll() is None, "the running app keeps running"
        log_file = client.home.logs / "practice-client.log"
        # SIGTERM a running agent
        wait_for(lambda: "agent started from the GUI" in log_file.read_text(errors="replace"),
                 60, "the app to start its agent", interval=0.05)
        first.send_signal(signal.SIGTERM)
        assert finish(first, 60) == 0
    finally:
        if first.poll() is None:
            first.kill()
            first.communicate()
    log = (client.home.logs / "practice-client.log").read_text(errors="replace")
    assert "agent started from the GUI" in log and "agent stopped" in log, "the agent ran and was stopped"
