"""A lean HTTP/1.1 client for hot paths: keep-alive pools over asyncio protocols with the
httptools parser.

General-purpose clients spend most of a small request in their own machinery (header
objects, URL parsing, async-library detection, pool bookkeeping scans). Hot paths that
only ever talk to a handful of known hosts (the gateway to the services, search to
Typesense) keep one small :class:`HTTPPool` per upstream and write requests straight to
the socket: :meth:`HTTPPool.request` streams (the gateway's proxy), :meth:`HTTPPool.fetch`
sends a buffered request and returns the whole response.

One connection carries one request at a time. Response bodies are delivered as they
arrive, with back-pressure (the socket stops being read while the client is slower).

Errors: `UpstreamUnavailable` (refused, unreachable, connect or pool timeout),
`UpstreamTimeout` (no response, or a stalled body, within the read timeout) and
`UpstreamProtocolError` (unparsable response, connection dropped mid-response).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import time
from collections.abc import AsyncIterator, Mapping
from typing import Any

import httptools

# Stop reading the socket when this much response body waits for the client.
_HIGH_WATER = 256 * 1024


class UpstreamError(Exception):
    """Base class of upstream failures."""


class UpstreamUnavailable(UpstreamError):
    """No connection could be made (or none freed up) in time."""


class UpstreamTimeout(UpstreamError):
    """The upstream did not answer (or stalled) within the read timeout."""


class UpstreamProtocolError(UpstreamError):
    """The upstream sent something that is not a valid HTTP/1.1 response, or hung up."""


class _Connection(asyncio.Protocol):
    """One keep-alive connection; see the module docstring."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.idle_since = time.monotonic()
        self.requests = 0
        self._parser: Any = None
        self._headers: list[tuple[bytes, bytes]] = []
        self._headers_done: asyncio.Future[None] | None = None
        self._waiter: asyncio.Future[None] | None = None
        self._body: collections.deque[bytes] = collections.deque()
        self._buffered = 0
        self._complete = False
        self._error: BaseException | None = None
        self._head = False
        self._got_bytes = False
        self._reading_paused = False
        self._write_paused = False
        self._drain_waiter: asyncio.Future[None] | None = None
        self.status = 0
        self.keep_alive = False
        self._framed = True

    # -- asyncio.Protocol --------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self._got_bytes = True
        if self._parser is None:
            # Bytes with no request outstanding: the connection is unusable.
            self._fail(UpstreamProtocolError("unsolicited data from upstream"))
            return
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._fail(UpstreamProtocolError("unexpected protocol upgrade"))
        except httptools.HttpParserError as exc:
            self._fail(UpstreamProtocolError(f"invalid response: {exc}"))

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self._parser is not None and not self._complete:
            hdrs = self._headers_done
            if hdrs is not None and hdrs.done() and not self._framed:
                # Body delimited by the connection closing (no length, not chunked).
                self._complete = True
                self._wake()
            else:
                self._fail(UpstreamProtocolError("upstream closed the connection"))
        if self._drain_waiter is not None and not self._drain_waiter.done():
            self._drain_waiter.set_exception(UpstreamProtocolError("connection lost"))

    def pause_writing(self) -> None:
        self._write_paused = True

    def resume_writing(self) -> None:
        self._write_paused = False
        if self._drain_waiter is not None and not self._drain_waiter.done():
            self._drain_waiter.set_result(None)

    # -- httptools callbacks ---------------------------------------------------------

    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers.append((name, value))

    def on_headers_complete(self) -> None:
        parser = self._parser
        self.status = parser.get_status_code()
        if 100 <= self.status < 200:
            # Interim response (e.g. 100 Continue): the real one follows.
            self._headers = []
            return
        self.keep_alive = parser.should_keep_alive()
        framed = False
        for name, value in self._headers:
            lname = name.lower()
            if lname == b"content-length" or (
                lname == b"transfer-encoding" and b"chunked" in value.lower()
            ):
                framed = True
                break
        no_body = self._head or self.status in (204, 304)
        self._framed = framed or no_body
        if self._headers_done is not None and not self._headers_done.done():
            self._headers_done.set_result(None)
        if self._head:
            self._complete = True
            self._wake()

    def on_body(self, body: bytes) -> None:
        if self._head:
            return
        self._body.append(body)
        self._buffered += len(body)
        if self._buffered > _HIGH_WATER and not self._reading_paused and self.transport:
            self._reading_paused = True
            self.transport.pause_reading()
        self._wake()

    def on_message_complete(self) -> None:
        if 100 <= self.status < 200:
            return
        self._complete = True
        self._wake()

    # -- internals ---------------------------------------------------------------------

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _fail(self, exc: BaseException) -> None:
        if self._error is None:
            self._error = exc
        # .exception() marks each future's error as seen, so one nobody awaits any more
        # is not reported as "never retrieved"; an awaiting caller still gets it raised.
        hdrs = self._headers_done
        if hdrs is not None and not hdrs.done():
            hdrs.set_exception(exc)
            hdrs.exception()
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_exception(exc)
            waiter.exception()
        self.close()

    def close(self) -> None:
        self.closed = True
        if self.transport is not None and not self.transport.is_closing():
            self.transport.close()

    async def _drain(self, limit_s: float) -> None:
        if self._write_paused and not self.closed:
            self._drain_waiter = self.loop.create_future()
            try:
                async with asyncio.timeout(limit_s):
                    await self._drain_waiter
            except TimeoutError:
                self._fail(UpstreamTimeout("upstream stopped reading the request body"))
                raise UpstreamTimeout("upstream stopped reading the request body") from None

    # -- request/response --------------------------------------------------------------

    def start(self, head: bool) -> None:
        self._parser = httptools.HttpResponseParser(self)
        self._headers = []
        self._headers_done = self.loop.create_future()
        self._body.clear()
        self._buffered = 0
        self._complete = False
        self._error = None
        self._head = head
        self._got_bytes = False
        self._framed = True
        self.status = 0
        self.requests += 1

    async def send_body(
        self, body: AsyncIterator[bytes], chunked: bool, write_timeout: float
    ) -> None:
        assert self.transport is not None
        async for chunk in body:
            if self._error is not None:
                raise self._error
            if not chunk:
                continue
            if chunked:
                self.transport.write(b"%x\r\n%b\r\n" % (len(chunk), chunk))
            else:
                self.transport.write(chunk)
            await self._drain(write_timeout)
        if chunked:
            self.transport.write(b"0\r\n\r\n")

    async def wait_headers(self, limit_s: float) -> None:
        assert self._headers_done is not None
        if not self._headers_done.done():
            handle = self.loop.call_later(limit_s, self._timeout_headers)
            try:
                await self._headers_done
            finally:
                handle.cancel()
        elif self._headers_done.exception() is not None:
            raise self._headers_done.exception()  # type: ignore[misc]

    def _timeout_headers(self) -> None:
        self._fail(UpstreamTimeout("no response in time"))

    async def next_chunk(self, limit_s: float) -> bytes | None:
        """The next body chunk, or None at the end of the body."""
        while True:
            if self._body:
                chunk = self._body.popleft()
                self._buffered -= len(chunk)
                if self._reading_paused and self._buffered < _HIGH_WATER // 2 and self.transport:
                    self._reading_paused = False
                    self.transport.resume_reading()
                return chunk
            if self._error is not None:
                raise self._error
            if self._complete:
                return None
            self._waiter = self.loop.create_future()
            handle = self.loop.call_later(limit_s, self._timeout_body)
            try:
                await self._waiter
            finally:
                handle.cancel()
                self._waiter = None

    def _timeout_body(self) -> None:
        self._fail(UpstreamTimeout("response body stalled"))

    @property
    def reusable(self) -> bool:
        return (
            self._complete
            and self._error is None
            and self.keep_alive
            and self._framed
            and not self.closed
            and not self._body
        )


class UpstreamResponse:
    """An upstream response whose body is read with `chunks()`; always `release()` it."""

    def __init__(self, pool: HTTPPool, conn: _Connection, read_timeout: float) -> None:
        self._pool = pool
        self._conn = conn
        self._read_timeout = read_timeout
        self.status = conn.status
        self.headers = conn._headers
        self._released = False

    async def chunks(self) -> AsyncIterator[bytes]:
        """The body as it arrives. Raises `UpstreamTimeout`/`UpstreamProtocolError`."""
        conn = self._conn
        while True:
            chunk = await conn.next_chunk(self._read_timeout)
            if chunk is None:
                return
            yield chunk

    async def read(self) -> bytes:
        """The whole body."""
        parts = [c async for c in self.chunks()]
        return parts[0] if len(parts) == 1 else b"".join(parts)

    def release(self) -> None:
        """Return the connection to the pool (or close it if the exchange did not finish
        cleanly). Idempotent."""
        if not self._released:
            self._released = True
            self._pool._release(self._conn)


class HTTPPool:
    """Keep-alive connections to one `host:port`.

    At most `max_connections` are in use at once; a request waits up to `pool_timeout`
    for one to free up. At most `max_idle` idle connections are kept, each for at most
    `idle_timeout` seconds.
    """

    def __init__(
        self,
        host: str,
        port: int,
        *,
        max_connections: int = 100,
        max_idle: int = 50,
        idle_timeout: float = 30.0,
        connect_timeout: float = 2.0,
        pool_timeout: float = 5.0,
    ) -> None:
        self.host = host
        self.port = port
        self.max_idle = max_idle
        self.idle_timeout = idle_timeout
        self.connect_timeout = connect_timeout
        self.pool_timeout = pool_timeout
        self._idle: collections.deque[_Connection] = collections.deque()
        self._slots = asyncio.Semaphore(max_connections)
        self._closed = False
        self._host_header = f"{host}:{port}".encode("latin-1")

    async def _connect(self) -> _Connection:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(self.connect_timeout):
                _, conn = await loop.create_connection(
                    lambda: _Connection(loop), self.host, self.port
                )
        except TimeoutError as exc:
            raise UpstreamUnavailable("connect timed out") from exc
        except OSError as exc:
            raise UpstreamUnavailable(f"connect failed: {exc}") from exc
        sock = conn.transport.get_extra_info("socket") if conn.transport else None
        if sock is not None:
            import socket

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

    async def request(
        self,
        method: bytes,
        target: bytes,
        headers: list[tuple[bytes, bytes]],
        *,
        body: bytes | AsyncIterator[bytes] = b"",
        chunked: bool = False,
        read_timeout: float = 30.0,
        write_timeout: float = 30.0,
        retry_idempotent: bool = False,
    ) -> UpstreamResponse:
        """Send one request and wait for the response headers.

        `headers` must already include `Host` and the body framing (`Content-Length` or
        `Transfer-Encoding: chunked`, matching `chunked`). With `retry_idempotent`, a
        reused keep-alive connection that turns out to be closed is retried once on a
        fresh one (only for requests without a streamed body).
        """
        if self._closed:
            raise UpstreamUnavailable("pool closed")
        if self._slots.locked():
            try:
                async with asyncio.timeout(self.pool_timeout):
                    await self._slots.acquire()
            except TimeoutError as exc:
                raise UpstreamUnavailable("no free upstream connection") from exc
        else:
            await self._slots.acquire()
        head = b"".join(
            [method, b" ", target, b" HTTP/1.1\r\n"]
            + [b"%b: %b\r\n" % (n, v) for n, v in headers]
            + [b"\r\n"]
        )
        try:
            for attempt in (0, 1):
                conn = self._take_idle()
                reused = conn is not None
                if conn is None:
                    conn = await self._connect()
                conn.start(method == b"HEAD")
                assert conn.transport is not None
                try:
                    if isinstance(body, bytes):
                        conn.transport.write(head + body if body else head)
                    else:
                        conn.transport.write(head)
                        await conn.send_body(body, chunked, write_timeout)
                    await conn.wait_headers(read_timeout)
                except UpstreamProtocolError:
                    conn.close()
                    if (
                        attempt == 0
                        and reused
                        and retry_idempotent
                        and isinstance(body, bytes)
                        and not conn._got_bytes
                    ):
                        continue
                    raise
                except BaseException:
                    conn.close()
                    raise
                return UpstreamResponse(self, conn, read_timeout)
            raise UpstreamProtocolError("unreachable")  # pragma: no cover
        except BaseException:
            self._slots.release()
            raise

    def _release(self, conn: _Connection) -> None:
        self._slots.release()
        if conn.reusable and not self._closed and len(self._idle) < self.max_idle:
            conn._parser = None
            conn.idle_since = time.monotonic()
            self._idle.append(conn)
        else:
            conn.close()

    async def fetch(
        self,
        method: str,
        target: str,
        *,
        headers: Mapping[str, str] | None = None,
        body: bytes = b"",
        content_type: str = "application/json",
        limit_s: float = 30.0,
    ) -> tuple[int, bytes]:
        """Send a buffered request and return ``(status, whole body)``.

        ``Host`` and the body's ``Content-Type``/``Content-Length`` are added. A reused
        connection found closed is retried once on a fresh one, so use it only for
        requests that are safe to repeat (reads, and writes that are idempotent).
        ``limit_s`` bounds the whole exchange, from waiting for a connection on. Raises
        :class:`UpstreamError` subclasses; an answer of any status is returned as it is.
        """
        raw = [(b"host", self._host_header)]
        raw += [(k.encode("latin-1"), v.encode("latin-1")) for k, v in (headers or {}).items()]
        if body or method in ("POST", "PUT", "PATCH"):
            raw.append((b"content-type", content_type.encode("latin-1")))
            raw.append((b"content-length", str(len(body)).encode()))
        try:
            async with asyncio.timeout(limit_s):
                response = await self.request(
                    method.encode("latin-1"),
                    target.encode("latin-1"),
                    raw,
                    body=body,
                    read_timeout=limit_s,
                    retry_idempotent=True,
                )
                try:
                    return response.status, await response.read()
                finally:
                    response.release()
        except TimeoutError:
            raise UpstreamTimeout(f"no answer from {self.host}:{self.port} in {limit_s}s") from None

    async def aclose(self) -> None:
        """Close idle connections; in-flight ones close when released."""
        self._closed = True
        while self._idle:
            self._idle.pop().close()
