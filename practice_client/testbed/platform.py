"""The reference platform: the API of DESIGN.md over real HTTPS on loopback.

Starlette behind uvicorn, TLS >= 1.2 with the testbed CA (:mod:`.ca`), a bearer
token on every call. It plays the production platform faithfully - the client
has no testbed-only code path - and adds what tests need: fault injection
(:class:`~.faults.Faults`) and counters (:class:`~.faults.Stats`).

Data directory (``DIR``): ``ca.pem``, ``token``, ``inbox/*.eml`` (served by
``/v1/inbox``), ``decisions/<request id>.json``, ``documents/<document id>.pgp``
(+ ``.manifest.pgp``, ``.json``), ``patients/<FPR>.asc`` (the server's copy of a
patient key), ``practice/key.asc``, ``practice/audit-checkpoint.json`` (the newest signed
checkpoint of the practice's audit log), ``uploads/`` (the tus uploads, under ids the server
chooses), ``finishes/`` (which upload finished which part: :mod:`.uploads`).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import hmac
import json
import logging
import os
import re
import secrets
import socket
import ssl
import threading
from collections.abc import Awaitable, Callable
from pathlib import Path
from types import TracebackType

import uvicorn
from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route

from practice_client.core.atomic import atomic_write
from practice_client.platform.ids import valid_platform_id
from practice_client.platform.tls import spki_sha256_pem
from practice_client.testbed.ca import ensure_ca
from practice_client.testbed.faults import Faults, Stats
from practice_client.testbed.uploads import MAX_UPLOAD_LENGTH, ApiError, Upload, UploadStore

log = logging.getLogger(__name__)

TUS_VERSION = "1.0.0"
CHECKSUMS = ("sha1", "sha256")
TUS_HEADERS = {"Tus-Resumable": TUS_VERSION}
INBOX_PAGE = 100
JSON_LIMIT = 64 * 1024
KEY_LIMIT = 256 * 1024
FINGERPRINT_RE = re.compile(r"^[0-9A-Fa-f]{40}$")

Handler = Callable[[Request], Awaitable[Response]]


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=headers)


def _encode_cursor(name: str) -> str:
    return base64.urlsafe_b64encode(name.encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> str:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        return base64.b64decode(padded, altchars=b"-_", validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        raise ApiError(400, "invalid cursor") from None


def _parse_metadata(header: str) -> dict[str, str]:
    """tus ``Upload-Metadata``: ``key base64value`` pairs separated by commas."""
    result: dict[str, str] = {}
    for item in filter(None, (p.strip() for p in header.split(","))):
        key, _, value = item.partition(" ")
        try:
            result[key] = base64.b64decode(value, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise ApiError(400, f"Upload-Metadata value of {key!r} is not base64") from None
    return result


def _declared_length(request: Request) -> int | None:
    """``Upload-Length`` when the request carries one (a number), else None."""
    raw = request.headers.get("upload-length")
    if raw is None:
        return None
    if not raw.isdigit():
        raise ApiError(400, "Upload-Length must be a number")
    return int(raw)


def _length_headers(upload: Upload) -> dict[str, str]:
    """``Upload-Length``, or ``Upload-Defer-Length: 1`` while the client has not declared it."""
    if upload.length is None:
        return {"Upload-Defer-Length": "1"}
    return {"Upload-Length": str(upload.length)}


async def _read_limited(request: Request, limit: int) -> bytes:
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise ApiError(413, "request body too large")
    return bytes(body)


async def _drop_connection(request: Request) -> None:
    """Cut the TCP connection mid-body, like a dying proxy or a lost network.

    Reaches uvicorn's transport through its receive callable: testbed-only, for
    the fault it simulates there is no ASGI-level way.
    """
    transport = getattr(getattr(request.receive, "__self__", None), "transport", None)
    if transport is None:
        raise RuntimeError("cannot reach the connection to drop it")
    transport.abort()
    while (await request.receive())["type"] != "http.disconnect":
        pass


class PlatformApp:
    """The ASGI application with its state (data directory, token, faults)."""

    def __init__(self, data_dir: Path, token: str, faults: Faults, stats: Stats,
                 checksum: bool = False) -> None:
        self.data = data_dir
        self.checksum = checksum
        self.token = token
        self.faults = faults
        self.stats = stats
        self.uploads = UploadStore(data_dir)
        self.app = Starlette(
            routes=[
                Route("/v1/inbox", self._guard("inbox", self.inbox), methods=["GET"]),
                Route(
                    "/v1/requests/{request_id}/decision",
                    self._guard("decision", self.decision), methods=["POST"],
                ),
                Route("/v1/uploads", self._guard("upload.options", self.tus_options),
                      methods=["OPTIONS"]),
                Route("/v1/uploads", self._guard("upload.create", self.tus_create),
                      methods=["POST"]),
                Route("/v1/uploads/{upload_id}", self._guard("upload.head", self.tus_head),
                      methods=["HEAD"]),
                Route("/v1/uploads/{upload_id}", self._guard("upload.patch", self.tus_patch),
                      methods=["PATCH"]),
                Route("/v1/uploads/{upload_id}", self._guard("upload.delete", self.tus_delete),
                      methods=["DELETE"]),
                Route("/v1/documents/{document_id}", self._guard("document", self.document),
                      methods=["GET"]),
                Route("/v1/documents/{document_id}/{part}",
                      self._guard("document", self.document), methods=["GET"]),
                Route("/v1/patients/{fingerprint}/key",
                      self._guard("patient_key", self.patient_key), methods=["GET"]),
                Route("/v1/practice/key", self._guard("practice_key", self.practice_key),
                      methods=["PUT"]),
                Route("/v1/practice/audit-checkpoint", self._guard("audit_checkpoint", self.audit_checkpoint),
                      methods=["GET", "PUT"]),
            ]
        )

    def _authorized(self, request: Request) -> bool:
        scheme, _, presented = request.headers.get("authorization", "").partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(
            presented.strip().encode(), self.token.encode()
        )

    def _guard(self, route: str, handler: Handler) -> Handler:
        """Every route: count, bearer token, injected failure, handler, injected delay."""

        async def endpoint(request: Request) -> Response:
            self.stats.count_call(route)
            if not self._authorized(request):
                return _error(401, "missing or wrong bearer token",
                              {"WWW-Authenticate": 'Bearer realm="platform"'})
            status = self.faults.take_failure(route)
            if status is not None:
                return _error(status, "injected fault")
            try:
                response = await handler(request)
            except ApiError as exc:
                response = _error(exc.status, str(exc), TUS_HEADERS if "upload" in route else None)
            delay = self.faults.take_delay(route)
            if delay:
                await asyncio.sleep(delay)
            return response

        return endpoint

    # --- inbox and decisions -------------------------------------------------------------

    async def inbox(self, request: Request) -> Response:
        after = request.query_params.get("after")
        after_name = _decode_cursor(after) if after else ""
        names = sorted(
            p.name for p in (self.data / "inbox").glob("*.eml") if p.is_file() and p.name > after_name
        )[:INBOX_PAGE]
        messages = [
            {
                "id": name.removesuffix(".eml"),
                "raw": base64.b64encode((self.data / "inbox" / name).read_bytes()).decode(),
            }
            for name in names
        ]
        cursor = _encode_cursor(names[-1]) if names else after
        return JSONResponse({"messages": messages, "cursor": cursor})

    async def decision(self, request: Request) -> Response:
        request_id = request.path_params["request_id"]
        if not valid_platform_id(request_id):
            raise ApiError(400, "invalid request id")
        try:
            body = json.loads(await _read_limited(request, JSON_LIMIT))
        except (ValueError, UnicodeDecodeError):
            raise ApiError(400, "body is not JSON") from None
        if not isinstance(body, dict) or body.get("decision") not in ("accepted", "declined"):
            raise ApiError(400, "decision must be 'accepted' or 'declined'")
        reason = body.get("reason", "")  # a decline's reason: an OpenPGP message for the patient
        if not isinstance(reason, str) or len(reason) > 16000:
            raise ApiError(400, "reason must be a short text")
        path = self.data / "decisions" / f"{request_id}.json"
        if path.exists():
            recorded = json.loads(path.read_text("utf-8"))
            if recorded["decision"] != body["decision"]:
                raise ApiError(409, "a different decision is already recorded")
            return JSONResponse({"request_id": request_id, "decision": recorded["decision"]})
        record = {"request_id": request_id, "decision": body["decision"], "reason": reason}
        atomic_write(path, json.dumps(record, sort_keys=True).encode(), 0o644)
        return JSONResponse({"request_id": request_id, "decision": body["decision"]})

    # --- tus uploads ---------------------------------------------------------------------

    @staticmethod
    def _require_tus(request: Request) -> None:
        if request.headers.get("tus-resumable") != TUS_VERSION:
            raise ApiError(412, "Tus-Resumable 1.0.0 required")

    async def tus_options(self, request: Request) -> Response:
        extensions = "creation,creation-with-upload,creation-defer-length,termination"
        checksum = {"Tus-Checksum-Algorithm": ",".join(CHECKSUMS)} if self.checksum else {}
        return Response(status_code=204, headers={
            **TUS_HEADERS, "Tus-Version": TUS_VERSION,
            "Tus-Extension": extensions + (",checksum" if self.checksum else ""),
            "Tus-Max-Size": str(MAX_UPLOAD_LENGTH), **checksum,
        })

    async def tus_create(self, request: Request) -> Response:
        """creation: every POST a new upload, at a URL the server chooses."""
        self._require_tus(request)
        length = _declared_length(request)
        if length is None and request.headers.get("upload-defer-length") != "1":
            raise ApiError(400, "Upload-Length or Upload-Defer-Length: 1 required")
        meta = _parse_metadata(request.headers.get("upload-metadata", ""))
        upload = self.uploads.create(
            meta.get("document_id", ""), meta.get("part", ""), meta.get("request_id", ""), length
        )
        created = {**TUS_HEADERS, "Location": f"/v1/uploads/{upload.upload_id}"}
        if self.faults.take_forged_offset():  # a hostile server: "all there", nothing received
            return Response(status_code=201, headers={**created, **_length_headers(upload),
                                                      "Upload-Offset": str(upload.length or 0)})
        # creation-with-upload: the body is the upload's first bytes
        if request.headers.get("content-type") == "application/offset+octet-stream":
            return await self._locked_patch(request, upload, 0, 201, created)
        return Response(status_code=201, headers={**created, **_length_headers(upload), "Upload-Offset": "0"})

    async def tus_head(self, request: Request) -> Response:
        self._require_tus(request)
        upload = self.uploads.get(request.path_params["upload_id"])
        return Response(status_code=200, headers={
            **TUS_HEADERS, **_length_headers(upload), "Upload-Offset": str(self.uploads.offset(upload)),
            "Cache-Control": "no-store",
        })

    async def tus_patch(self, request: Request) -> Response:
        self._require_tus(request)
        if request.headers.get("content-type") != "application/offset+octet-stream":
            raise ApiError(415, "Content-Type must be application/offset+octet-stream")
        upload = self.uploads.get(request.path_params["upload_id"])
        try:
            claimed = int(request.headers["upload-offset"])
        except (KeyError, ValueError):
            raise ApiError(400, "Upload-Offset required") from None
        return await self._locked_patch(request, upload, claimed, 204, TUS_HEADERS)

    async def tus_delete(self, request: Request) -> Response:
        """termination: the client discards an upload (e.g. of an encryption it abandoned)."""
        self._require_tus(request)
        self.uploads.terminate(request.path_params["upload_id"])
        return Response(status_code=204, headers=TUS_HEADERS)

    async def _locked_patch(
        self, request: Request, upload: Upload, claimed: int, status: int, headers: dict[str, str]
    ) -> Response:
        if upload.upload_id in self.uploads.busy:
            raise ApiError(423, "another PATCH of this upload is in progress")
        self.uploads.busy.add(upload.upload_id)
        try:
            return await self._patch(request, upload, claimed, status, headers)
        finally:
            self.uploads.busy.discard(upload.upload_id)

    def _checksum(self, request: Request) -> tuple[hashlib._Hash, bytes] | None:
        """checksum extension: the digest to compute over the body and the one it must give."""
        raw = request.headers.get("upload-checksum")
        if raw is None or not self.checksum:
            return None
        algorithm, _, value = raw.partition(" ")
        if algorithm not in CHECKSUMS:
            raise ApiError(400, "unsupported checksum algorithm")
        try:
            return hashlib.new(algorithm), base64.b64decode(value, validate=True)
        except binascii.Error:
            raise ApiError(400, "Upload-Checksum is not base64") from None

    async def _patch(
        self, request: Request, upload: Upload, claimed: int, status: int, headers: dict[str, str]
    ) -> Response:
        """Append the request body at ``claimed``; answer ``status`` with the new offset."""
        if upload.complete:
            return _error(409, "the upload is complete", {**TUS_HEADERS, "Upload-Offset": str(upload.length)})
        offset = self.uploads.offset(upload)
        if claimed != offset:
            return _error(409, "offset mismatch", {**TUS_HEADERS, "Upload-Offset": str(offset)})
        declared = _declared_length(request)
        if declared is not None:
            self.uploads.declare_length(upload, declared)
        limit = upload.length if upload.length is not None else MAX_UPLOAD_LENGTH
        announced = request.headers.get("content-length", "")
        if announced.isdigit() and offset + int(announced) > limit:
            raise ApiError(413, "more bytes than Upload-Length")
        checksum = self._checksum(request)
        drop_after = self.faults.take_drop()
        corrupt = self.faults.take_corruption()
        received, dropped, too_long, complete_body = 0, False, False, False
        with self.uploads.data_path(upload).open("r+b") as handle:
            handle.seek(offset)
            try:
                async for chunk in request.stream():
                    if drop_after is not None and received + len(chunk) >= drop_after:
                        chunk, dropped = chunk[: drop_after - received], True
                    if offset + received + len(chunk) > limit:
                        too_long = True
                        break
                    if corrupt and chunk:  # damaged on the way, after the client's checksum
                        chunk, corrupt = bytes([chunk[0] ^ 0xFF]) + chunk[1:], False
                    if checksum is not None:
                        checksum[0].update(chunk)
                    handle.write(chunk)
                    received += len(chunk)
                    self.stats.add_patch_bytes(len(chunk))
                    if dropped:
                        break
                else:
                    complete_body = True
            except ClientDisconnect:
                log.debug("upload %s: client went away after %d bytes", upload.upload_id, received)
            mismatch = checksum is not None and (not complete_body or checksum[0].digest() != checksum[1])
            if mismatch:  # bytes that cannot be verified are not kept (as tusd does)
                handle.truncate(offset)
                received = 0
            handle.flush()
            await asyncio.to_thread(os.fsync, handle.fileno())
        # What arrived is kept, whatever happens next: that is what makes a resume possible.
        offset += received
        if offset == upload.length and not upload.complete:
            self.uploads.finish(upload)
        if dropped:
            await _drop_connection(request)
            return Response(status_code=400)  # never sent: the connection is gone
        if too_long:
            raise ApiError(413, "more bytes than Upload-Length")
        if mismatch:
            return _error(460, "checksum mismatch", {**TUS_HEADERS, "Upload-Offset": str(offset)})
        return Response(status_code=status, headers={
            **headers, **_length_headers(upload), "Upload-Offset": str(offset),
        })

    # --- documents and keys --------------------------------------------------------------

    async def document(self, request: Request) -> Response:
        part = request.path_params.get("part", "document")
        path = self.uploads.document_path(request.path_params["document_id"], part)
        if not path.is_file():
            raise ApiError(404, "no such document")
        return FileResponse(path, media_type="application/octet-stream")

    async def patient_key(self, request: Request) -> Response:
        fingerprint = request.path_params["fingerprint"]
        if not FINGERPRINT_RE.match(fingerprint):
            raise ApiError(400, "not a fingerprint")
        path = self.data / "patients" / f"{fingerprint.upper()}.asc"
        if not path.is_file():
            raise ApiError(404, "no key for this patient")
        return Response(path.read_bytes(), media_type="application/pgp-keys")

    async def practice_key(self, request: Request) -> Response:
        body = await _read_limited(request, KEY_LIMIT)
        if b"-----BEGIN PGP PUBLIC KEY BLOCK-----" not in body:
            raise ApiError(400, "body is not an ASCII-armored OpenPGP public key")
        atomic_write(self.data / "practice" / "key.asc", body, 0o644)
        return Response(status_code=204)


    async def audit_checkpoint(self, request: Request) -> Response:
        """PUT keeps the practice's newest signed audit checkpoint (``practice/audit-checkpoint.json``);
        the same one again is fine, an older one is refused (409: the practice's log went
        back). GET returns the one kept. The signature is the practice's business: the
        platform keeps, the client checks."""
        path = self.data / "practice" / "audit-checkpoint.json"
        if request.method == "GET":
            if not path.is_file():
                raise ApiError(404, "no audit checkpoint yet")
            return Response(path.read_bytes(), media_type="application/json")
        try:
            body = json.loads(await _read_limited(request, JSON_LIMIT))
            checkpoint, signature = body["checkpoint"], body["signature"]
            seq = int(json.loads(checkpoint)["seq"])
            if not isinstance(signature, str) or "BEGIN PGP SIGNATURE" not in signature:
                raise ValueError("no signature")
        except (ValueError, KeyError, TypeError, UnicodeDecodeError):
            raise ApiError(400, "body must be {checkpoint, signature} with the checkpoint's seq") from None
        if path.is_file():
            held = json.loads(path.read_text("utf-8"))
            held_seq = int(json.loads(held["checkpoint"])["seq"])
            if seq < held_seq or (seq == held_seq and held["checkpoint"] != checkpoint):
                raise ApiError(409, f"a checkpoint of entry {held_seq} is held already")
        atomic_write(path, json.dumps({"checkpoint": checkpoint, "signature": signature}).encode(), 0o644)
        return Response(status_code=204)


class _Server(uvicorn.Server):
    """uvicorn, telling a waiting thread when it listens."""

    def __init__(self, config: uvicorn.Config, ready: threading.Event) -> None:
        super().__init__(config)
        self._ready = ready

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        self._ready.set()


class TestbedPlatform:
    """The platform on ``https://127.0.0.1:PORT``; ``port=0`` picks a free port.

    Use as a context manager or call :meth:`start` / :meth:`stop`.
    """

    __test__ = False  # not a pytest test class despite the name

    def __init__(self, data_dir: Path, port: int = 0, *, checksum: bool = False) -> None:
        self.data_dir = Path(data_dir).absolute()
        self.port = port
        self.checksum = checksum  # offer the tus checksum extension
        self.faults = Faults()
        self.stats = Stats()
        for sub in ("inbox", "documents", "decisions", "uploads", "patients", "practice"):
            (self.data_dir / sub).mkdir(parents=True, exist_ok=True)
        self.tls = ensure_ca(self.data_dir)
        self.token = self._ensure_token()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._failure: BaseException | None = None

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    @property
    def ca_file(self) -> Path:
        return self.tls.ca_file

    @property
    def spki_pin(self) -> str:
        """The pin a client may configure for this server (its key's SPKI SHA-256)."""
        return spki_sha256_pem(self.tls.cert_file.read_bytes())

    def _ensure_token(self) -> str:
        path = self.data_dir / "token"
        if path.is_file() and path.read_text().strip():
            return path.read_text().strip()
        token = secrets.token_urlsafe(32)
        atomic_write(path, token.encode() + b"\n", 0o600)
        return token

    def start(self, timeout: float = 30.0) -> TestbedPlatform:
        """Serve in a background thread; return once the server accepts connections."""
        if self._thread is not None:
            raise RuntimeError("the platform is already running")
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            # Inherited by every accepted connection. Without it the response body waits
            # behind its headers for the client's delayed ACK: 40 ms per answer.
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.bind(("127.0.0.1", self.port))  # loopback only, never another address
        except OSError:
            sock.close()
            raise
        self.port = sock.getsockname()[1]
        app = PlatformApp(self.data_dir, self.token, self.faults, self.stats, self.checksum)
        config = uvicorn.Config(
            app.app, ssl_certfile=str(self.tls.cert_file), ssl_keyfile=str(self.tls.key_file),
            log_config=None, log_level="warning", access_log=False, lifespan="off", http="h11",
            loop="asyncio", timeout_graceful_shutdown=5,
        )
        config.load()
        assert config.ssl is not None
        config.ssl.minimum_version = ssl.TLSVersion.TLSv1_2
        ready = threading.Event()
        self._server = _Server(config, ready)

        def run() -> None:
            try:
                assert self._server is not None
                self._server.run(sockets=[sock])
            except BaseException as exc:  # noqa: BLE001 - reported to start()
                self._failure = exc
            finally:
                ready.set()
                sock.close()

        self._thread = threading.Thread(target=run, name="testbed-platform", daemon=True)
        self._thread.start()
        if not ready.wait(timeout) or self._failure is not None or not self._server.started:
            self.stop()
            raise RuntimeError(f"the testbed platform did not start: {self._failure!r}")
        log.info("testbed platform listening on %s", self.url)
        return self

    def stop(self, timeout: float = 15.0) -> None:
        """Stop serving and wait for the server thread to end.

        Requests still running are cut off, as in a server crash: a client must cope,
        and a test's idle keep-alive connection never delays the stop."""
        if self._server is not None:
            self._server.should_exit = True
            self._server.force_exit = True
        if self._thread is not None:
            self._thread.join(timeout)
        self._server, self._thread = None, None

    def __enter__(self) -> TestbedPlatform:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
