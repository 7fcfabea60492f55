"""The practice service's HTTPS API (Starlette, served by uvicorn over the service's TLS).

Three kinds of callers:

- anyone on the network: ``GET /v1/hello`` (version only) and the two pairing steps,
  which need a one-time code (:mod:`practice_client.service.pairing`);
- paired workstations, ``Authorization: Bearer pcws.<id>.<secret>``: the views
  (``POST /v1/views/<method>``, the GUI's :class:`DataSource` methods one to one), the
  change feed (``GET /v1/feed``, server-sent events), staff commands
  (``POST /v1/commands/<name>`` with an ``Idempotency-Key``), the record of a command
  (``GET /v1/commands/<key>``) and uploads for a command (``PUT /v1/staged/<id>``, a
  document streamed to the service's staging folder before ``files.add`` names it:
  :mod:`practice_client.service.staging`). ``X-Practice-OS-User`` names the user at the
  workstation; the audit log records it with the workstation;
- the admin on the service's machine: ``/v1/control/...`` from loopback only, with the
  control token the service writes at start to a file only the service's account and
  administrators can read (pair, unpair, list workstations, status).

Every answer is JSON; errors are ``{"error": "one line"}`` with 400 (bad input),
401 (no or a revoked credential), 403 (role), 409/422 (refused), 503 (not set up).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import json
import logging
import typing
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from practice_client import __version__
from practice_client.core.acting import Actor
from practice_client.core.audit import now_iso
from practice_client.core.errors import InputError, NotConfigured, PracticeClientError
from practice_client.core.store import Workstation
from practice_client.core.text import Text
from practice_client.service import pairing, wire
from practice_client.service.commands import Dispatcher, Refused
from practice_client.service.feed import Feed
from practice_client.service.staging import StagingRefused, cap_for
from practice_client.service.wire import to_wire

log = logging.getLogger(__name__)

PROTOCOL = 1
MAX_BODY = 96 * 1024 * 1024  # a patients file (64 MiB) as base64
WRITE_BLOCK = 1024 * 1024  # an upload is written to its staged file a block at a time
CREDENTIAL_PREFIX = "pcws"
NOT_PAIRED = Text("dieser Arbeitsplatz ist nicht mit dem Praxis-Dienst gekoppelt",
                  "this workstation is not paired with the practice service")


def credential_digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def bearer(workstation_id: str, credential: str) -> str:
    return f"{CREDENTIAL_PREFIX}.{workstation_id}.{credential}"


@dataclass(frozen=True)
class Views:
    """The reads the service serves: the GUI's Qt-free DataSource over the service's store,
    handed in by the program that starts the service (the service's layer is below the
    GUI's and does not import it). ``methods``: the interface's methods, one to one."""

    source: Any
    methods: frozenset[str]


def interface_methods(protocol: type) -> frozenset[str]:
    """The public methods of an interface (a Protocol class): what may be called remotely."""
    return frozenset(name for name, value in vars(protocol).items() if callable(value) and not name.startswith("_"))


class ApiError(PracticeClientError):
    """A request the API refuses, with its HTTP status."""

    def __init__(self, status: int, message: Text | str) -> None:
        super().__init__(message)
        self.status = status


def error_answer(exc: BaseException, status: int) -> JSONResponse:
    """An error for a workstation: ``error`` one line with both languages (the CLI, logs),
    ``text`` German and English apart (each workstation's window shows its own)."""
    text = exc.text if isinstance(exc, PracticeClientError) else Text.same(str(exc))  # ValueError: English
    text = Text(" ".join(text.de.split())[:300], " ".join(text.en.split())[:300])
    return JSONResponse({"error": str(text), "text": to_wire(text)}, status_code=status)


@dataclass
class ServiceApi:
    """The app's state: the store's workstations, the dispatcher, the feed, pairing offers,
    the views (a DataSource over the service's store, or None before there is one)."""

    dispatcher: Dispatcher
    feed: Feed
    offers: pairing.Offers
    control_token: str
    views: Views | None = None

    @property
    def store(self) -> Any:
        return self.dispatcher.runtime.ctx.store

    # -- authentication ------------------------------------------------------------------

    def actor(self, request: Request) -> Actor:
        header = request.headers.get("authorization", "")
        scheme, _, value = header.partition(" ")
        prefix, _, rest = value.partition(".")
        workstation_id, _, secret = rest.partition(".")
        if scheme.lower() != "bearer" or prefix != CREDENTIAL_PREFIX or not workstation_id or not secret:
            raise ApiError(401, NOT_PAIRED)
        found: Workstation | None = self.store.workstation(workstation_id[:32])
        if found is None or not hmac.compare_digest(found.credential_sha256, credential_digest(secret)):
            raise ApiError(401, NOT_PAIRED)
        if found.revoked_at is not None:
            raise ApiError(401, Text("dieser Arbeitsplatz wurde vom Praxis-Dienst entkoppelt",
                                     "this workstation was unpaired from the practice service"))
        os_user = " ".join(request.headers.get("x-practice-os-user", "").split())[:64]
        return Actor(found.workstation_id, found.name, os_user or "?", found.role)

    def control(self, request: Request) -> None:
        host = request.client.host if request.client else ""
        try:
            local = ipaddress.ip_address(host).is_loopback
        except ValueError:
            local = False
        token = request.headers.get("authorization", "").removeprefix("Control ")
        if not local or not hmac.compare_digest(token.encode(), self.control_token.encode()):
            raise ApiError(403, "control requests only from the service's own machine, with its control token")

    # -- handlers ---------------------------------------------------------------------------

    async def hello(self, request: Request) -> Response:
        return JSONResponse({"service": "practice-client", "version": __version__, "protocol": PROTOCOL})

    async def pairing_start(self, request: Request) -> Response:
        body = await _json(request)
        claims = {k: " ".join(str(body.get(k, "")).split())[:64] for k in ("hostname", "os_user")}
        message = base64.b64decode(str(body.get("message", "")), validate=True)
        answer = self.offers.start(str(body.get("slot", ""))[:2], message, claims)
        return JSONResponse(answer)

    async def pairing_finish(self, request: Request) -> Response:
        body = await _json(request)
        confirm = base64.b64decode(str(body.get("confirm", "")), validate=True)
        paired, claims, keys = self.offers.finish(str(body.get("session", ""))[:64], confirm)
        record = Workstation(paired.workstation_id, paired.name, paired.role, credential_digest(paired.credential),
                             now_iso(), None)
        await run_in_threadpool(self.store.add_workstation, record)
        log.info("workstation %s paired (role %s)", paired.workstation_id, paired.role)
        return JSONResponse(pairing.seal_credential(keys, paired))

    async def me(self, request: Request) -> Response:
        actor = self.actor(request)
        ctx = self.dispatcher.runtime.ctx
        return JSONResponse({"workstation_id": actor.workstation_id, "name": actor.workstation, "role": actor.role,
                             "configured": bool(ctx.config.practice_key_fingerprint),
                             "running": self.dispatcher.runtime.agent is not None, "version": __version__})

    async def view(self, request: Request) -> Response:
        self.actor(request)
        method = request.path_params["method"]
        if self.views is None or method not in self.views.methods:
            raise ApiError(503 if self.views is None else 404, f"{method[:40]}: no such view here")
        body = await _json(request)
        bound = getattr(self.views.source, method)
        hints = typing.get_type_hints(bound)
        args = body.get("args", {})
        if not isinstance(args, dict) or set(args) - set(hints):
            raise ApiError(400, f"{method}: unknown arguments")
        try:
            values = {name: wire.from_wire(hints[name], value) for name, value in args.items()}
        except (ValueError, TypeError) as exc:
            raise ApiError(400, f"{method}: {exc}") from None
        result = await run_in_threadpool(bound, **values)
        return JSONResponse({"value": wire.to_wire(result)})

    async def command(self, request: Request) -> Response:
        actor = self.actor(request)
        body = await _json(request)
        key = request.headers.get("idempotency-key")
        outcome = await run_in_threadpool(self.dispatcher.run, request.path_params["name"], body.get("args", {}),
                                          actor, key)
        return JSONResponse(outcome.to_json(), status_code=200 if outcome.outcome == "applied" else 422)

    async def command_record(self, request: Request) -> Response:
        actor = self.actor(request)
        stored = await run_in_threadpool(self.store.stored_command, request.path_params["key"][:100])
        if stored is None or stored.workstation_id != actor.workstation_id:
            return JSONResponse({"outcome": "unknown"}, status_code=404)
        return JSONResponse({"outcome": stored.outcome, "result": stored.result, "command": stored.command})

    async def command_settle(self, request: Request) -> Response:
        actor = self.actor(request)
        outcome = await run_in_threadpool(self.dispatcher.settle, request.path_params["key"][:100], actor)
        return JSONResponse(outcome.to_json(), status_code=200 if outcome.outcome == "applied" else 422)

    async def staged_put(self, request: Request) -> Response:
        """A file for a later ``files.add``, streamed to a staged file (never held whole)."""
        actor = self.actor(request)
        runtime = self.dispatcher.runtime
        declared = request.headers.get("content-length", "")
        staged_id = request.path_params["staged_id"]
        upload = await run_in_threadpool(runtime.staging.begin, actor.workstation_id, staged_id,
                                         cap_for(runtime.ctx.config), int(declared) if declared.isdigit() else None)
        try:
            block = bytearray()
            async for chunk in request.stream():
                block += chunk
                if len(block) >= WRITE_BLOCK:
                    await run_in_threadpool(upload.write, bytes(block))
                    block.clear()
            await run_in_threadpool(upload.write, bytes(block))
            size = await run_in_threadpool(upload.finish)
        except BaseException:
            upload.abort()
            raise
        return JSONResponse({"staged_id": staged_id, "size": size})

    async def feed_stream(self, request: Request) -> Response:
        actor = self.actor(request)
        return StreamingResponse(self.feed.stream(actor.workstation_id), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})

    async def control_pair(self, request: Request) -> Response:
        self.control(request)
        body = await _json(request)
        code = self.offers.create(str(body.get("role", "staff")), str(body.get("name", "")))
        return JSONResponse({"code": code, "expires_in": pairing.LIFETIME_SECONDS, "attempts": pairing.ATTEMPTS})

    async def control_unpair(self, request: Request) -> Response:
        self.control(request)
        body = await _json(request)
        workstation_id = str(body.get("workstation_id", ""))[:32]
        revoked = await run_in_threadpool(self.store.revoke_workstation, workstation_id)
        self.feed.close(workstation_id)  # its open streams end now, not at their next request
        return JSONResponse({"workstation_id": revoked.workstation_id, "name": revoked.name})

    async def control_workstations(self, request: Request) -> Response:
        self.control(request)
        rows = await run_in_threadpool(self.store.list_workstations)
        return JSONResponse({"workstations": [
            {"workstation_id": w.workstation_id, "name": w.name, "role": w.role, "paired_at": w.paired_at,
             "revoked_at": w.revoked_at} for w in rows]})

    async def control_status(self, request: Request) -> Response:
        self.control(request)
        runtime = self.dispatcher.runtime
        return JSONResponse({"configured": bool(runtime.ctx.config.practice_key_fingerprint),
                             "running": runtime.agent is not None, "cursor": self.feed.cursor,
                             "version": __version__})


async def _json(request: Request) -> dict[str, Any]:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY:
        raise ApiError(413, "the request is too large")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY:
            raise ApiError(413, "the request is too large")
    try:
        value = json.loads(body or b"{}")
    except ValueError:
        raise ApiError(400, "the request is not JSON") from None
    if not isinstance(value, dict):
        raise ApiError(400, "the request is not a JSON object")
    return value


def _guarded(handler: Callable[[Request], Any]) -> Callable[[Request], Any]:
    async def run(request: Request) -> Response:
        try:
            return typing.cast(Response, await handler(request))
        except ApiError as exc:
            return error_answer(exc, exc.status)
        except pairing.PairingRefused as exc:
            return error_answer(exc, 403)
        except Refused as exc:
            return error_answer(exc, 409)
        except StagingRefused as exc:
            return error_answer(exc, exc.status)
        except NotConfigured as exc:
            return error_answer(exc, 503)
        except (InputError, ValueError) as exc:
            return error_answer(exc, 400)
        except PracticeClientError as exc:
            return error_answer(exc, 422)
        except Exception:
            log.exception("service API %s failed", request.url.path)
            return error_answer(PracticeClientError(Text(
                "interner Fehler des Praxis-Dienstes (siehe sein Protokoll)",
                "internal error of the practice service (see its log)")), 500)

    return run


def build_app(api: ServiceApi) -> Starlette:
    routes = [
        Route("/v1/hello", _guarded(api.hello), methods=["GET"]),
        Route("/v1/pairing/start", _guarded(api.pairing_start), methods=["POST"]),
        Route("/v1/pairing/finish", _guarded(api.pairing_finish), methods=["POST"]),
        Route("/v1/me", _guarded(api.me), methods=["GET"]),
        Route("/v1/views/{method}", _guarded(api.view), methods=["POST"]),
        Route("/v1/commands/{name}", _guarded(api.command), methods=["POST"]),
        Route("/v1/commands/{key}", _guarded(api.command_record), methods=["GET"]),
        Route("/v1/commands/{key}/settle", _guarded(api.command_settle), methods=["POST"]),
        Route("/v1/staged/{staged_id}", _guarded(api.staged_put), methods=["PUT"]),
        Route("/v1/feed", _guarded(api.feed_stream), methods=["GET"]),
        Route("/v1/control/pair", _guarded(api.control_pair), methods=["POST"]),
        Route("/v1/control/unpair", _guarded(api.control_unpair), methods=["POST"]),
        Route("/v1/control/workstations", _guarded(api.control_workstations), methods=["GET"]),
        Route("/v1/control/status", _guarded(api.control_status), methods=["GET"]),
    ]
    return Starlette(routes=routes)
