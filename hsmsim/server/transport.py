"""Connection-level bounds of ``hsmsim serve``: what a slow or greedy client may hold.

uvicorn alone waits forever for request headers and uses asyncio's 60 s TLS handshake
timeout, so a few hundred half-open connections pin the server (slowloris). Here:

* a TLS handshake must finish within :data:`HANDSHAKE_TIMEOUT` seconds;
* each request's headers must arrive within :data:`HEADER_TIMEOUT` seconds of the connection
  opening or of the previous response (trickling bytes does not extend it);
* the body within :data:`BODY_TIMEOUT` (enforced by the app, which answers 408);
* at most :data:`MAX_CONNECTIONS` connections are served at once (uvicorn answers 503 beyond),
  and an idle keep-alive connection is closed after :data:`KEEP_ALIVE_TIMEOUT` seconds;
* a closing connection waits at most :data:`TLS_CLOSE_TIMEOUT` seconds for the client's close_notify.
  asyncio waits 30 s, and a client's pooled idle connection (urllib3, httpx, the vendors' SDKs) does not
  read its socket, so it never answers: every keep-alive close held a connection slot for 30 s, and stopping the
  server waited out its 3 s graceful-shutdown limit whenever such a client was connected;
* a request's head (its target and header fields) may hold at most :data:`MAX_HEADER_BYTES` (else 400 and the
  connection closes), and an unfinished header line is refused so once over :data:`MAX_HEADER_BYTES` more have
  arrived since the read in which it began.

The HTTP parser is httptools (llhttp, in C) rather than h11 (Python): beside an attestation's own signatures, the
server runs a fifth fewer instructions per request (issue 19: callgrind under 40 keep-alive TLS clients).
httptools does not bound a request's head, hence :class:`BoundedHttpToolsProtocol`.

:class:`HsmsimServer` also says where the server listens, once it does, and which signal stopped it.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable
from types import FrameType
from typing import Any

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

HANDSHAKE_TIMEOUT = 5.0
HEADER_TIMEOUT = 5.0
BODY_TIMEOUT = 10.0
KEEP_ALIVE_TIMEOUT = 5
TLS_CLOSE_TIMEOUT = 1.0
MAX_CONNECTIONS = 1000
MAX_HEADER_BYTES = 16 * 1024


class HeadTooLargeError(Exception):
    """A request's head outgrew :data:`MAX_HEADER_BYTES` (raised in a parser callback: uvicorn answers 400)."""


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a deadline for each request's headers and a bound on their size.

    The head's size is counted exactly from the parser's callbacks (the target as it arrives, each header field once
    complete: name, value and 4 bytes of separator and line end). httptools holds an unfinished header line until
    it ends, so the bytes read since the last callback while a head is open are counted too.
    """

    _header_deadline: asyncio.TimerHandle | None = None
    _head_open = False  # a request's head has begun and is not yet complete
    _head_bytes = 0  # of the open head, counted by the callbacks
    _parsed = False  # a callback of the open head ran during the current read
    _unparsed = 0  # bytes read since the read in which the open head's last callback ran

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)  # type: ignore[arg-type]
        self._arm_header_deadline()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._arm_header_deadline()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._header_deadline is not None:
            self._header_deadline.cancel()
        super().connection_lost(exc)

    def _arm_header_deadline(self) -> None:
        if self._header_deadline is not None:
            self._header_deadline.cancel()
        self._header_deadline = self.loop.call_later(HEADER_TIMEOUT, self._headers_overdue)

    def _headers_overdue(self) -> None:
        # No request in progress: its head has not all arrived (a complete head starts a cycle whose response
        # is not yet complete).
        if (self.cycle is None or self.cycle.response_complete) and not self.transport.is_closing():
            self.transport.close()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self._head_open and not self.transport.is_closing():
            self._unparsed = 0 if self._parsed else self._unparsed + len(data)
            self._parsed = False
            if self._unparsed > MAX_HEADER_BYTES:
                self.send_400_response("Invalid HTTP request received.")

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._head_open, self._head_bytes, self._parsed = True, 0, True

    def on_url(self, url: bytes) -> None:
        self._grow(len(url))
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._grow(len(name) + len(value) + 4)
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._head_open = False
        super().on_headers_complete()

    def _grow(self, size: int) -> None:
        self._head_bytes += size
        self._parsed = True
        if self._head_bytes > MAX_HEADER_BYTES:
            raise HeadTooLargeError


class BoundedLoop(asyncio.SelectorEventLoop):
    """An event loop whose TLS servers give up on a handshake after :data:`HANDSHAKE_TIMEOUT`, and on the
    client's close_notify after :data:`TLS_CLOSE_TIMEOUT`."""

    async def create_server(self, *args: Any, **kwargs: Any) -> asyncio.Server:
        if kwargs.get("ssl") is not None:
            kwargs.setdefault("ssl_handshake_timeout", HANDSHAKE_TIMEOUT)
            kwargs.setdefault("ssl_shutdown_timeout", TLS_CLOSE_TIMEOUT)
        return await super().create_server(*args, **kwargs)


def uvicorn_options() -> dict[str, object]:
    """The uvicorn settings that apply these bounds."""
    return {"http": BoundedHttpToolsProtocol, "loop": f"{__name__}:BoundedLoop", "limit_concurrency": MAX_CONNECTIONS,
            "timeout_keep_alive": KEEP_ALIVE_TIMEOUT, "backlog": 2048}


class HsmsimServer(uvicorn.Server):
    """uvicorn's server, which calls :attr:`on_listening` with the port it listens on once it does (the one the
    system chose for port 0), and remembers the first signal that stopped it (:attr:`stopped_by`).

    Once shut down, uvicorn re-raises that signal with the handler it found at start; when that handler ignored it
    (SIGINT, as a non-interactive shell starts `hsmsim serve &`), ``run()`` returns as if the server had ended by
    itself, and only :attr:`stopped_by` tells the command it was interrupted.
    """

    stopped_by: int | None = None
    on_listening: Callable[[int], None] | None = None

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        listening = [sock.getsockname()[1] for server in self.servers for sock in server.sockets]
        if listening and self.on_listening is not None:
            self.on_listening(listening[0])

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if self.stopped_by is None:
            self.stopped_by = sig
        super().handle_exit(sig, frame)
