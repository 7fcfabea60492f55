"""The practice service as a Windows service (pywin32's service framework).

The MSI registers ``practice-client.exe service run --windows-service --listen ...`` as the
service ``PracticeClient`` (LocalSystem, automatic start, restarted by the service control
manager after a failure - installer/windows/practice-client.wxs). The control manager
starts that command line; :func:`dispatch` hands the process to it
(``StartServiceCtrlDispatcher``), and :class:`ServiceHost` runs the same
:class:`~practice_client.service.daemon.PracticeService` as the systemd unit and the
LaunchDaemon do, in the service's thread, with the control manager's states around it.

:class:`ServiceHost` holds everything that is not Windows: the states reported, a stop that
may come before the service listens, and the exit code. It is tested on every system. The
pywin32 class is built only where pywin32 is (:func:`service_class`), and ``os._exit(1)`` on
a failure lets the control manager see a failed service, so its recovery actions apply
(a return would report a clean stop).
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from practice_client.core.errors import PracticeClientError, StateError

log = logging.getLogger(__name__)

SERVICE_NAME = "PracticeClient"  # the MSI's ServiceInstall/@Name; never change it
DISPLAY_NAME = "Practice Client service"
DESCRIPTION = ("Praxisdienst: Praxisschlüssel, Anfragen, Zustellung, Arbeitsplätze / "
               "practice service: practice key, requests, delivery, workstations")
ERROR_FAILED_SERVICE_CONTROLLER_CONNECT = 1063  # started from a console, not by the control manager

# the control manager's states, by the names pywin32 gives them (win32service.SERVICE_*)
START_PENDING, RUNNING, STOP_PENDING = "START_PENDING", "RUNNING", "STOP_PENDING"

Report = Callable[[str], None]


class ServiceHost:
    """One run of the service under a service manager: ``run()`` in the service's thread
    (blocks; returns the exit code), ``stop()`` from the manager's thread."""

    def __init__(self, make_service: Callable[[], Any], report: Report) -> None:
        self._make_service = make_service
        self._report = report
        self._lock = threading.Lock()
        self._service: Any = None
        self._stop_requested = False

    def run(self) -> int:
        self._report(START_PENDING)
        try:
            service = self._make_service()
        except Exception as exc:
            log.error("the practice service cannot start: %s", exc)
            return 1
        with self._lock:
            self._service = service
            stopped_early = self._stop_requested
        if stopped_early:
            return 0
        watcher = threading.Thread(target=self._running_once_ready, args=(service,), daemon=True,
                                   name="service-ready")
        watcher.start()
        try:
            service.run()
        except PracticeClientError as exc:  # its own errors say what to do: one line
            log.error("the practice service stopped: %s", exc)
            return 1
        except Exception:
            log.exception("the practice service failed")
            return 1
        finally:
            service.ready.set()  # the watcher ends in every case
        return 0

    def _running_once_ready(self, service: Any) -> None:
        service.ready.wait()
        with self._lock:
            if not self._stop_requested:
                self._report(RUNNING)

    def stop(self) -> None:
        with self._lock:
            self._stop_requested = True
            service = self._service
            self._report(STOP_PENDING)
        if service is not None:
            service.stop()


def secure_folder(path: Path) -> None:  # pragma: no cover - Windows only
    """The service's data folder readable by LocalSystem and Administrators only (a
    protected DACL: nothing inherited from ProgramData, where every user may read)."""
    import ntsecuritycon
    import win32security

    path.mkdir(parents=True, exist_ok=True)
    dacl = win32security.ACL()
    inherit = win32security.OBJECT_INHERIT_ACE | win32security.CONTAINER_INHERIT_ACE
    for sid in (win32security.CreateWellKnownSid(win32security.WinLocalSystemSid),
                win32security.CreateWellKnownSid(win32security.WinBuiltinAdministratorsSid)):
        dacl.AddAccessAllowedAceEx(win32security.ACL_REVISION, inherit, ntsecuritycon.FILE_ALL_ACCESS, sid)
    win32security.SetNamedSecurityInfo(
        str(path), win32security.SE_FILE_OBJECT,
        win32security.DACL_SECURITY_INFORMATION | win32security.PROTECTED_DACL_SECURITY_INFORMATION,
        None, None, dacl, None)


def service_class(make_service: Callable[[], Any]) -> type:  # pragma: no cover - Windows only
    """pywin32's ServiceFramework subclass around a :class:`ServiceHost`."""
    import servicemanager
    import win32service
    import win32serviceutil

    states = {START_PENDING: win32service.SERVICE_START_PENDING, RUNNING: win32service.SERVICE_RUNNING,
              STOP_PENDING: win32service.SERVICE_STOP_PENDING}

    class PracticeClientService(win32serviceutil.ServiceFramework):  # type: ignore[misc]
        _svc_name_ = SERVICE_NAME
        _svc_display_name_ = DISPLAY_NAME
        _svc_description_ = DESCRIPTION

        def __init__(self, args: Any) -> None:
            super().__init__(args)
            self.host = ServiceHost(make_service, lambda state: self.ReportServiceStatus(states[state]))

        def SvcStop(self) -> None:  # noqa: N802 - pywin32's name
            self.host.stop()

        def SvcDoRun(self) -> None:  # noqa: N802 - pywin32's name
            code = self.host.run()
            if code:
                servicemanager.LogErrorMsg(f"{SERVICE_NAME}: stopped by a failure (see its log)")
                logging.shutdown()
                os._exit(code)  # a failed service to the control manager: its recovery restarts it

    return PracticeClientService


def dispatch(folder: Path, make_service: Callable[[], Any]) -> int:
    """Hand this process to the service control manager (the MSI's command line);
    ``folder``: the service's data folder, secured before anything is written to it."""
    try:
        import pywintypes
        import servicemanager
    except ImportError:
        raise StateError("--windows-service: this is not Windows (pywin32 is missing); "
                         "run 'practice-client service run' without it") from None
    secure_folder(folder)  # pragma: no cover - Windows only
    servicemanager.Initialize()
    servicemanager.PrepareToHostSingle(service_class(make_service))
    try:
        servicemanager.StartServiceCtrlDispatcher()
    except pywintypes.error as exc:
        if exc.winerror == ERROR_FAILED_SERVICE_CONTROLLER_CONNECT:
            raise StateError("--windows-service: only the Windows service control manager starts this "
                             "(sc start PracticeClient); in a console use 'practice-client service run'") from None
        raise
    return 0
