"""The ASGI application behind ``hsmsim serve``: routing, authentication, bounds, error shapes.

Routes are matched on the *raw* path with empty segments kept, because the Azure SDK sends
``/keys/NAME/`` and ``/keys/NAME//attestation`` when no version is given. Every call runs in a
worker thread, concurrently with the others and with the event loop's TLS and HTTP work; there is no
global lock: the store serialises what must be (see :mod:`hsmsim.server.store`). Handlers raise :class:`ApiError` for
every client error, and anything else becomes a 500 with no details. A body must arrive within
:data:`~hsmsim.server.transport.BODY_TIMEOUT` seconds (else 408).
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import re
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

import anyio.to_thread
from anyio import CapacityLimiter
from anyio.lowlevel import RunVar
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from hsmsim.encoding import parse_json
from hsmsim.server.store import ServerStore, StateFullError
from hsmsim.server.transport import BODY_TIMEOUT
from hsmsim.verdict import escaped

MAX_BODY_BYTES = 1024 * 1024
# Why worker threads: a call spends most of its CPU in key generation (seconds for RSA-4096), an attestation's
# signatures (an RSA-3072 one is 1-3 ms) or PBKDF2, and cryptography and hashlib release the GIL for those, so
# calls run on every core; on the event loop they would also stall every connection's TLS meanwhile.
# Last path segments of the calls that generate a key (TSB POST /v1/key, Azure POST /keys/NAME/create, Cloud KMS
# POST .../cryptoKeys and .../cryptoKeyVersions): they take a pool of their own, of CREATION_THREADS, so a burst of
# slow creations never holds every thread of the pool the other calls use.
_GENERATING = {"key", "create", "cryptoKeys", "cryptoKeyVersions"}
CREATION_THREADS = 4
_creation_limiter: RunVar[CapacityLimiter] = RunVar("hsmsim_creation_limiter")
logger = logging.getLogger("hsmsim.server")

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


@dataclass
class ApiError(Exception):
    """A client error with the HTTP status and the vendor-shaped body to send."""

    status: int
    body: dict[str, object]
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Call:
    """One parsed request as handlers see it."""

    method: str
    segments: list[str]
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    base_url: str

    def json(self, error: Callable[[str], ApiError]) -> dict[str, object]:
        """The body as a JSON object; ``error(message)`` builds the vendor's 400."""
        if not self.body:
            return {}
        try:
            data = parse_json(self.body)
        except ValueError:
            raise error("request body is not valid JSON") from None
        if not isinstance(data, dict):
            raise error("request body must be a JSON object")
        return data

    def bearer(self) -> str | None:
        """The bearer token of the Authorization header, if any."""
        value = self.headers.get("authorization", "")
        scheme, _, token = value.partition(" ")
        return token.strip() if scheme.lower() == "bearer" and token.strip() else None


Handler = Callable[[Call], Response]


def token_matches(call: Call, token: str) -> bool:
    """Constant-time check of the request's bearer token."""
    given = call.bearer()
    return given is not None and hmac.compare_digest(given.encode(), token.encode())


async def _read_body(request: Request) -> bytes | None:
    """The request body, or None once it exceeds :data:`MAX_BODY_BYTES`."""
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            return None
    return bytes(body)


_LABEL = r"[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?"
_HOST = re.compile(rf"(?=.{{1,255}}$)({_LABEL}(\.{_LABEL})*\.?|\[[0-9A-Fa-f:.]{{2,45}}\])(:[0-9]{{1,5}})?")
"""A Host header the server accepts (RFC 9110 7.2): a DNS name (underscores allowed), an IPv4 address or a
bracketed IPv6 literal, then an optional port. Azure's key URIs are built from it."""
_CLOSE = {"Connection": "close"}


class HsmsimApp:
    """An ASGI app dispatching to the vendor APIs by path prefix."""

    def __init__(self, store: ServerStore, token: str) -> None:
        from hsmsim.formats import names
        from hsmsim.server import azure, gcp, tsb

        names()  # load the format registry now: its lazy first load is not safe under concurrent handlers
        self.store = store
        self.token = token
        # By path prefix, the first that matches: Cloud KMS's /v1/projects/... before the TSB's other /v1/...
        self.apis: list[tuple[tuple[str, ...], Callable[[HsmsimApp, Call], Response]]] = [
            (("v1", "projects"), gcp.dispatch), (("v1",), tsb.dispatch), (("keys",), azure.dispatch),
        ]
        # The error bodies of the refusals made before a request reaches its API (413, 408), by path prefix.
        self.error_shapes: list[tuple[tuple[str, ...], Callable[[int, str], ApiError]]] = [
            (("v1", "projects"), gcp.early_error), (("v1",), tsb.early_error),
        ]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    self.store.close()
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        request = Request(scope, receive)
        response = await self._respond(request)
        await response(scope, receive, send)

    def _early_error(self, segments: list[str], status: int, code: str, message: str,
                     headers: dict[str, str] | None = None) -> Response:
        """A refusal made before the request reaches its API, in that API's error shape (Azure's otherwise)."""
        shape = next((shape for prefix, shape in self.error_shapes if _has_prefix(segments, prefix)), None)
        if shape is None:
            return JSONResponse({"error": {"code": code, "message": message}}, status, headers=headers)
        return JSONResponse(shape(status, message).body, status, headers=headers)

    async def _respond(self, request: Request) -> Response:
        raw_path = request.scope.get("raw_path") or request.url.path.encode()
        path = raw_path.decode("latin-1").split("?", 1)[0]
        segments = [unquote(s) for s in path.split("/")[1:]]
        host = request.headers.get("host", request.url.netloc)
        if not _HOST.fullmatch(host):
            return self._early_error(segments, 400, "BadParameter",
                                     f"the Host header '{escaped(host[:80])}' is not a host name with an optional port")
        # A refused body is never read: the connection closes, so its sender cannot keep it busy.
        declared = request.headers.get("content-length", "0")
        if not declared.isdigit() or int(declared) > MAX_BODY_BYTES:
            return self._early_error(segments, 413, "RequestTooLarge", "body too large", _CLOSE)
        try:
            body = await asyncio.wait_for(_read_body(request), BODY_TIMEOUT)
        except TimeoutError:
            return self._early_error(segments, 408, "RequestTimeout", "body too slow", _CLOSE)
        if body is None:
            return self._early_error(segments, 413, "RequestTooLarge", "body too large", _CLOSE)
        call = Call(
            method=request.method,
            segments=segments,
            query=dict(request.query_params),
            headers={k.lower(): v for k, v in request.headers.items()},
            body=body,
            base_url=f"{request.url.scheme}://{host}",
        )
        for prefix, dispatch in self.apis:
            if _has_prefix(call.segments, prefix):
                if call.method == "POST" and call.segments[-1] in _GENERATING:
                    return await anyio.to_thread.run_sync(self._guarded, dispatch, call, limiter=_creation_pool())
                return await run_in_threadpool(self._guarded, dispatch, call)
        return JSONResponse({"error": {"code": "NotFound", "message": "no such endpoint"}}, 404)

    def _guarded(self, dispatch: Callable[[HsmsimApp, Call], Response], call: Call) -> Response:
        try:
            return dispatch(self, call)
        except ApiError as error:
            return JSONResponse(error.body, error.status, headers=error.headers)
        except StateFullError as error:
            return JSONResponse({"error": {"code": "InsufficientStorage", "message": str(error)}}, 507)
        except Exception:
            logger.exception("internal error on %s /%s", call.method, "/".join(call.segments))
            return JSONResponse({"error": {"code": "InternalError", "message": "internal error"}}, 500)


def _has_prefix(segments: list[str], prefix: tuple[str, ...]) -> bool:
    return tuple(segments[:len(prefix)]) == prefix


def _creation_pool() -> CapacityLimiter:
    """The limiter of the key-creating calls' threads, one per event loop (as anyio keeps its default one)."""
    try:
        return _creation_limiter.get()
    except LookupError:
        limiter = CapacityLimiter(CREATION_THREADS)
        _creation_limiter.set(limiter)
        return limiter
