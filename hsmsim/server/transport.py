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
  asyncio waits 30 s, and a client's pooled idle connection (urllib3, httpx, the vendors' SDKs) does not read
  its socket, so it never answers: every keep-alive close held a connection slot for 30 s, and stopping the
  server waited out its 3 s graceful-shutdown limit whenever such a client was connected.

:class:`HsmsimServer` also says where the server listens, once it does, and which signal stopped it.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable
from types import FrameType
from typing import Any

import h11
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

HANDSHAKE_TIMEOUT = 5.0
HEADER_TIMEOUT = 5.0
BODY_TIMEOUT = 10.0
KEEP_ALIVE_TIMEOUT = 5
TLS_CLOSE_TIMEOUT = 1.0
MAX_CONNECTIONS = 1000
MAX_HEADER_BYTES = 16 * 1024


class BoundedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with a deadline for each request's headers."""

    _header_deadline: asyncio.TimerHandle | None = None

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
        # IDLE: the request line and headers have not all arrived (a request in progress has moved on).
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            self.transport.close()


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
    return {"http": BoundedH11Protocol, "loop": f"{__name__}:BoundedLoop", "limit_concurrency": MAX_CONNECTIONS,
            "timeout_keep_alive": KEEP_ALIVE_TIMEOUT, "h11_max_incomplete_event_size": MAX_HEADER_BYTES,
            "backlog": 2048}


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
