"""A small keep-alive HTTP/1.1 client for one upstream (Typesense), on asyncio protocols
with the httptools parser.

Every search request makes one Typesense call, so the client's own cost is paid per
query. A general-purpose client spends most of such a call in its machinery (header
objects, URL models, per-request async-library detection, pool bookkeeping); this one
only ever sends small, fully buffered requests to one known host, so it writes the
request bytes straight to a pooled socket and collects the whole response body.

One connection carries one request at a time. Idle connections are reused newest
first; one that the server closed while idle (it received no byte of the response) is
replaced by a fresh connection and the request is sent once more, which is safe for the
calls search makes (searches, and upserts/deletes by id, which are idempotent).

Failures raise :class:`HTTPUnavailable` (refused, unreachable, timed out, or the server
hung up mid-response); an answer of any status is returned as it is.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections import deque
from typing import Any

import httptools


class HTTPUnavailable(ConnectionError):
    """No usable response: connect failure, timeout, or the connection dropped."""


class _Connection(asyncio.Protocol):
    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.idle_since = time.monotonic()
        self._parser: Any = None
        self._body: list[bytes] = []
        self._done: asyncio.Future[None] | None = None
        self.got_bytes = False
        self.status = 0
        self.keep_alive = False

    # asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.got_bytes = True
        if self._parser is None:
            self._fail(HTTPUnavailable("unsolicited data from upstream"))
            return
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(HTTPUnavailable(f"invalid response: {exc}"))

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._fail(HTTPUnavailable("upstream closed the connection"))

    # httptools callbacks

    def on_headers_complete(self) -> None:
        self.status = self._parser.get_status_code()
        self.keep_alive = self._parser.should_keep_alive()

    def on_body(self, body: bytes) -> None:
        self._body.append(body)

    def on_message_complete(self) -> None:
        if 100 <= self.status < 200:
            # An interim response (100 Continue): the real one follows.
            self._body.clear()
            return
        done = self._done
        if done is not None and not done.done():
            done.set_result(None)

    # internals

    def _fail(self, exc: BaseException) -> None:
        done = self._done
        if done is not None and not done.done():
            done.set_exception(exc)
            # Mark it retrieved: a caller that already gave up must not trigger a warning.
            done.exception()
        self.close()

    def close(self) -> None:
        self.closed = True
        if self.transport is not None and not self.transport.is_closing():
            self.transport.close()

    async def exchange(self, request: bytes) -> tuple[int, bytes]:
        assert self.transport is not None
        self._parser = httptools.HttpResponseParser(self)
        self._body = []
        self.status = 0
        self.got_bytes = False
        self._done = self.loop.create_future()
        self.transport.write(request)
        await self._done
        self._parser = None
        body = self._body[0] if len(self._body) == 1 else b"".join(self._body)
        return self.status, body


class HTTPClient:
    """Keep-alive connections to ``host:port`` sending requests with fixed extra headers.

    At most ``max_connections`` requests are in flight (more wait for a free slot), at
    most ``max_idle`` idle connections are kept, each for at most ``idle_timeout``
    seconds (below the server's keep-alive timeout, so idle connections are rarely found
    closed). ``timeout`` bounds each request from waiting for a slot to the last byte
    of the response.
    """

    def __init__(
        self,
        host: str,
        port: int,
        *,
        headers: dict[str, str] | None = None,
        timeout: float = 5.0,
        max_connections: int = 64,
        max_idle: int = 16,
        idle_timeout: float = 8.0,
    ) -> None:
        self.host = host
        self.port = port
        self.timeout = timeout
        self.max_idle = max_idle
        self.idle_timeout = idle_timeout
        self._idle: deque[_Connection] = deque()
        self._slots = asyncio.Semaphore(max_connections)
        self._closed = False
        fixed = {"Host": f"{host}:{port}", **(headers or {})}
        self._fixed = "".join(f"{k}: {v}\r\n" for k, v in fixed.items()).encode("latin-1")

    async def _connect(self) -> _Connection:
        loop = asyncio.get_running_loop()
        try:
            _, conn = await loop.create_connection(lambda: _Connection(loop), self.host, self.port)
        except OSError as exc:
            raise HTTPUnavailable(f"connect to {self.host}:{self.port} failed: {exc}") from exc
        sock = conn.transport.get_extra_info("socket") if conn.transport else None
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return conn

    def _take_idle(self) -> _Connection | None:
        now = time.monotonic()
        while self._idle:
            conn = self._idle.pop()
            if not conn.closed and now - conn.idle_since < self.idle_timeout:
                return conn
            conn.close()
        return None

    def _release(self, conn: _Connection) -> None:
        if self._closed or conn.closed or not conn.keep_alive or len(self._idle) >= self.max_idle:
            conn.close()
            return
        conn.idle_since = time.monotonic()
        self._idle.append(conn)

    async def request(
        self,
        method: str,
        target: str,
        *,
        body: bytes = b"",
        content_type: str = "application/json",
    ) -> tuple[int, bytes]:
        """Send one request; ``(status, body)``. Raises :class:`HTTPUnavailable`."""
        if self._closed:
            raise HTTPUnavailable("client closed")
        head = f"{method} {target} HTTP/1.1\r\n".encode("latin-1") + self._fixed
        if body or method in ("POST", "PUT", "PATCH"):
            head += b"Content-Type: %b\r\nContent-Length: %d\r\n" % (
                content_type.encode("latin-1"),
                len(body),
            )
        data = head + b"\r\n" + body
        try:
            async with asyncio.timeout(self.timeout), self._slots:
                conn = self._take_idle()
                if conn is not None:
                    try:
                        return await self._send(conn, data)
                    except HTTPUnavailable:
                        if conn.got_bytes:
                            raise
                        # Closed by the server while idle: nothing was processed, resend.
                return await self._send(await self._connect(), data)
        except TimeoutError:
            raise HTTPUnavailable(f"no response from {self.host}:{self.port} in time") from None

    async def _send(self, conn: _Connection, data: bytes) -> tuple[int, bytes]:
        ok = False
        try:
            result = await conn.exchange(data)
            ok = True
            return result
        finally:
            # A failed, timed-out or cancelled exchange leaves the connection unusable.
            if ok:
                self._release(conn)
            else:
                conn.close()

    async def aclose(self) -> None:
        self._closed = True
        while self._idle:
            self._idle.pop().close()
