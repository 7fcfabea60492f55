"""The practice service process: the one owner of the practice's data, serving the workstations.

:class:`PracticeService` opens the service's home with its vault (the OS's store for
services holds the vault key), its TLS identity, the store; runs the agent (intake,
the watched export folder, encryption, uploads - ``service.agent.Agent``, unchanged)
when the practice is set up; and serves the API (:mod:`practice_client.service.api`)
with uvicorn until it is stopped: SIGTERM/SIGINT (systemd, launchd, a terminal), or
:meth:`PracticeService.stop` (the Windows service's stop, tests).

Files in the home's ``service/`` folder: ``vault`` (sealed secrets), ``cert.pem``
(the public certificate workstations pin), ``endpoint.json`` (the address it listens
on, written once it does), ``staged/`` (workstations' uploads for ``files.add``, swept
when unclaimed: :mod:`practice_client.service.staging`); ``control-token`` (the admin's token for this start) in
``$RUNTIME_DIRECTORY`` where systemd gives one (memory), else there too.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import secrets as _random
import signal
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from practice_client.core.atomic import atomic_write
from practice_client.core.paths import Home
from practice_client.service.files import DEFAULT_PORT, ServiceFiles
from practice_client.service.vault import KeyProvider, Vault, os_key_provider

if TYPE_CHECKING:
    from practice_client.context import Context
    from practice_client.service.api import Views

    ViewsFactory = Callable[[Context], Views | None]

log = logging.getLogger(__name__)

class PracticeService:
    """One running service. ``run()`` blocks until stopped."""

    def __init__(self, home: Home, host: str = "0.0.0.0", port: int = DEFAULT_PORT,  # noqa: S104 - the LAN
                 provider: KeyProvider | None = None, views: ViewsFactory | None = None) -> None:
        """``views``: the reads the workstations get over the service's store (the GUI's
        DataSource, handed in from above; None serves no views)."""
        self.home = home.ensure()
        self._views = views
        self.files = ServiceFiles(self.home)
        self.host, self.port = host, port
        self._provider = provider
        self._server: Any = None
        self._stopping = threading.Event()
        self.ready = threading.Event()  # set once the API listens (tests, the Windows service)
        self.runtime: Any = None
        self.feed: Any = None

    def run(self) -> None:
        import uvicorn

        from practice_client.context import Context
        from practice_client.core.errors import StateError
        from practice_client.service.adopt import unfinished
        from practice_client.service.api import ServiceApi, build_app
        from practice_client.service.commands import Dispatcher, Runtime
        from practice_client.service.feed import Feed
        from practice_client.service.pairing import Offers
        from practice_client.service.tls import load_or_create

        if unfinished(self.home):
            raise StateError(f"{self.home.root}: the adoption of a home is not finished: run "
                             "'practice-client service adopt' again (it continues where it stopped)")
        self.files.folder.mkdir(mode=0o700, exist_ok=True)
        vault = Vault(self.files.vault, self._provider or os_key_provider(self.files.folder))
        vault.check()
        ctx = Context(self.home, secrets=vault)
        identity = load_or_create(vault, self.files.cert)
        feed = self.feed = Feed()
        store = ctx.store
        feed.cursor = store.audit_head().seq
        store.add_listener(lambda seq: feed.publish({"type": "change", "cursor": seq}))
        runtime = self.runtime = Runtime(ctx)
        runtime.start_agent = lambda: self._start_agent(runtime)
        token = _random.token_urlsafe(32)
        self.files.control_token.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(self.files.control_token, token.encode("ascii"))
        api = ServiceApi(Dispatcher(runtime), feed, Offers(identity.pin), token,
                         self._views(ctx) if self._views is not None else None)
        if ctx.config.practice_key_fingerprint:
            self._start_agent(runtime)
        config = uvicorn.Config(
            build_app(api), host=self.host, port=self.port, log_config=None, access_log=False, lifespan="off",
            ssl_context_factory=lambda _config, _default: identity.server_context(),
            timeout_graceful_shutdown=3, server_header=False,
        )
        self._server = uvicorn.Server(config)
        if self._stopping.is_set():  # stopped while starting (a service manager's stop)
            self._server.should_exit = True
        if threading.current_thread() is threading.main_thread():
            # uvicorn re-raises the signal that stopped it once it is done; with ours in place
            # that ends here, and the agent below still stops cleanly (exit 0 for systemd)
            for sig in (signal.SIGINT, signal.SIGTERM):
                signal.signal(sig, lambda *_: self.stop())
        try:
            asyncio.run(self._serve(identity.pin))
        finally:
            feed.close()
            if runtime.agent is not None:
                runtime.agent.stop()
            ctx.close()
            self.files.endpoint.unlink(missing_ok=True)
            log.info("practice service stopped")

    async def _serve(self, pin: str) -> None:
        assert self.feed is not None and self._server is not None
        self.feed.bind(asyncio.get_running_loop())
        announce = asyncio.create_task(self._announce(pin))
        sweep = asyncio.create_task(self._sweep_staged())
        try:
            await self._server.serve()
        finally:
            announce.cancel()
            sweep.cancel()

    async def _sweep_staged(self) -> None:
        """Uploads for ``files.add`` that no command claimed in time go (at start, then
        every few minutes); a failure is logged and tried again at the next round."""
        from practice_client.service.staging import SWEEP_SECONDS, Staging

        staging = Staging.of(self.home)
        while True:
            try:
                await asyncio.to_thread(staging.sweep)
            except OSError:
                log.exception("sweeping the staged uploads failed")
            await asyncio.sleep(SWEEP_SECONDS)

    async def _announce(self, pin: str) -> None:
        """Once uvicorn listens: the endpoint file (the port really bound, the pin)."""
        while not self._server.started:
            if self._stopping.is_set():
                return
            await asyncio.sleep(0.02)
        port = self._server.servers[0].sockets[0].getsockname()[1]
        endpoint = {"port": port, "pin": pin, "pid": os.getpid(), "control_token": str(self.files.control_token)}
        atomic_write(self.files.endpoint, json.dumps(endpoint).encode(), mode=0o600)
        log.info("practice service listening on port %s", port)
        self.ready.set()

    def _start_agent(self, runtime: Any) -> None:
        from practice_client.service.agent import Agent, AgentEvent
        from practice_client.service.feed import agent_event

        if runtime.agent is not None:
            return
        feed = self.feed

        def on_event(event: AgentEvent) -> None:
            value = agent_event(event)
            if value is not None and feed is not None:
                feed.publish(value)

        agent = Agent(runtime.ctx, on_event=on_event)
        agent.start()
        runtime.agent = agent

    def stop(self) -> None:
        """From any thread: stop serving (open feeds end), then the agent."""
        self._stopping.set()
        if self.feed is not None:
            self.feed.close()
        if self._server is not None:
            self._server.should_exit = True
