"""A minimal pipelined Redis client for the rate limiter's one command per request.

Every request's `EVALSHA` goes over one shared connection; commands are written as they
come and replies are matched in order (Redis answers a connection's commands in order),
so concurrent requests never wait for a pool slot and the reply is parsed by a few lines
of code instead of a general-purpose client.

Any connection trouble (refused, reset, a reply not arriving within `timeout_s`) fails
every command in flight with `RedisUnavailable` and drops the connection; the next
command reconnects.
"""

from __future__ import annotations

import asyncio
import collections
import ssl
from typing import Any
from urllib.parse import unquote, urlsplit


class RedisUnavailable(Exception):
    """Redis could not be reached or did not answer in time."""


class RedisReplyError(Exception):
    """Redis answered with an error reply (`-ERR ...`, `-NOSCRIPT ...`)."""

    @property
    def is_noscript(self) -> bool:
        return str(self).startswith("NOSCRIPT")


class _Incomplete(Exception):
    pass


def encode_command(*parts: bytes | str | int | float) -> bytes:
    """A command in the RESP wire format."""
    out = [b"*%d\r\n" % len(parts)]
    for part in parts:
        if isinstance(part, bytes):
            data = part
        elif isinstance(part, str):
            data = part.encode()
        else:
            data = repr(part).encode() if isinstance(part, float) else b"%d" % part
        out.append(b"$%d\r\n%b\r\n" % (len(data), data))
    return b"".join(out)


def parse_reply(buf: bytes | bytearray, pos: int = 0) -> tuple[Any, int]:
    """One RESP2 reply from `buf[pos:]` → (value, next position).

    Error replies are returned as `RedisReplyError` instances (not raised). Raises
    `_Incomplete` when `buf` does not yet hold the whole reply.
    """
    end = buf.find(b"\r\n", pos)
    if end < 0:
        raise _Incomplete
    kind = buf[pos]
    line = bytes(buf[pos + 1 : end])
    nxt = end + 2
    if kind == 0x2B:  # +
        return line.decode(), nxt
    if kind == 0x2D:  # -
        return RedisReplyError(line.decode(errors="replace")), nxt
    if kind == 0x3A:  # :
        return int(line), nxt
    if kind == 0x24:  # $
        size = int(line)
        if size < 0:
            return None, nxt
        if len(buf) < nxt + size + 2:
            raise _Incomplete
        return bytes(buf[nxt : nxt + size]), nxt + size + 2
    if kind == 0x2A:  # *
        count = int(line)
        if count < 0:
            return None, nxt
        items = []
        for _ in range(count):
            item, nxt = parse_reply(buf, nxt)
            items.append(item)
        return items, nxt
    raise RedisUnavailable(f"unexpected reply type {chr(kind)!r}")


class _Protocol(asyncio.Protocol):
    def __init__(self, client: RedisPipe) -> None:
        self.client = client
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.waiters: collections.deque[asyncio.Future[Any]] = collections.deque()
        self.outgoing: list[bytes] = []
        self.closed = False

    def flush(self) -> None:
        out, self.outgoing = self.outgoing, []
        if out and self.transport is not None and not self.transport.is_closing():
            self.transport.write(b"".join(out) if len(out) > 1 else out[0])

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        buf = self.buffer
        buf += data
        pos = 0
        try:
            while pos < len(buf):
                try:
                    value, pos = parse_reply(buf, pos)
                except _Incomplete:
                    break
                if not self.waiters:
                    raise RedisUnavailable("reply without a command")
                waiter = self.waiters.popleft()
                if not waiter.done():
                    waiter.set_result(value)
        except (RedisUnavailable, ValueError) as exc:
            self.fail(RedisUnavailable(f"bad reply: {exc}"))
            return
        del buf[:pos]

    def connection_lost(self, exc: Exception | None) -> None:
        self.fail(RedisUnavailable(f"connection lost: {exc!r}"))

    def fail(self, exc: Exception) -> None:
        self.closed = True
        while self.waiters:
            waiter = self.waiters.popleft()
            if not waiter.done():
                waiter.set_exception(exc)
                waiter.exception()
        if self.transport is not None and not self.transport.is_closing():
            self.transport.close()
        if self.client._proto is self:
            self.client._proto = None


class RedisPipe:
    """A pipelined connection to the Redis of a `redis://` / `rediss://` URL.

    The URL may carry `user:password@` and a `/db` number. `timeout_s` bounds
    connecting (with AUTH/SELECT) and each reply.
    """

    def __init__(self, url: str, *, timeout_s: float = 0.25) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("redis", "rediss"):
            raise ValueError(f"unsupported Redis URL scheme {parts.scheme!r}")
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 6379
        self.username = unquote(parts.username) if parts.username else None
        self.password = unquote(parts.password) if parts.password else None
        path = parts.path.strip("/")
        self.db = int(path) if path else 0
        self.tls = parts.scheme == "rediss"
        self.timeout_s = timeout_s
        self._proto: _Protocol | None = None
        self._connecting: asyncio.Future[_Protocol] | None = None

    async def _connect(self) -> _Protocol:
        loop = asyncio.get_running_loop()
        ctx = ssl.create_default_context() if self.tls else None
        try:
            async with asyncio.timeout(self.timeout_s):
                _, proto = await loop.create_connection(
                    lambda: _Protocol(self), self.host, self.port, ssl=ctx
                )
                setup: list[bytes] = []
                if self.password is not None:
                    auth = [b"AUTH"] + ([self.username.encode()] if self.username else [])
                    setup.append(encode_command(*auth, self.password.encode()))
                if self.db:
                    setup.append(encode_command(b"SELECT", self.db))
                for command in setup:
                    reply = await self._send(proto, command)
                    if isinstance(reply, RedisReplyError):
                        proto.fail(RedisUnavailable(str(reply)))
                        raise RedisUnavailable(f"Redis refused the connection setup: {reply}")
        except TimeoutError as exc:
            raise RedisUnavailable("connect timed out") from exc
        except OSError as exc:
            raise RedisUnavailable(f"connect failed: {exc}") from exc
        return proto

    async def _protocol(self) -> _Protocol:
        proto = self._proto
        if proto is not None and not proto.closed:
            return proto
        # One connect at a time; concurrent callers wait for it.
        if self._connecting is None:
            self._connecting = asyncio.ensure_future(self._connect())
        connecting = self._connecting
        try:
            proto = await asyncio.shield(connecting)
        finally:
            if self._connecting is connecting and connecting.done():
                self._connecting = None
        self._proto = proto
        return proto

    def _send(self, proto: _Protocol, payload: bytes) -> asyncio.Future[Any]:
        assert proto.transport is not None
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[Any] = loop.create_future()
        proto.waiters.append(waiter)
        # Commands issued in the same loop iteration leave in one write (one syscall).
        if not proto.outgoing:
            loop.call_soon(proto.flush)
        proto.outgoing.append(payload)
        return waiter

    async def execute(self, *parts: bytes | str | int | float) -> Any:
        """Run one command and return its reply. Raises `RedisReplyError` for an error
        reply and `RedisUnavailable` for connection trouble or a late reply."""
        proto = await self._protocol()
        waiter = self._send(proto, encode_command(*parts))
        loop = asyncio.get_running_loop()
        handle = loop.call_later(self.timeout_s, proto.fail, RedisUnavailable("reply timed out"))
        try:
            reply = await waiter
        finally:
            handle.cancel()
        if isinstance(reply, RedisReplyError):
            raise reply
        return reply

    async def ping(self) -> None:
        """PING; raises like `execute`."""
        await self.execute(b"PING")

    async def aclose(self) -> None:
        """Drop the connection (commands in flight fail with `RedisUnavailable`)."""
        if self._proto is not None:
            self._proto.fail(RedisUnavailable("client closed"))
            self._proto = None
