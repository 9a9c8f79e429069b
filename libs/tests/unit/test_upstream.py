"""The kit's lean HTTP/1.1 client against small raw servers (framing and keep-alive)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

import pytest
from kit.upstream import (
    HTTPPool,
    UpstreamProtocolError,
    UpstreamTimeout,
    UpstreamUnavailable,
)

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@contextlib.asynccontextmanager
async def raw_server(handler: Handler):
    connections = []

    async def wrapped(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(writer)
        with contextlib.suppress(Exception):
            await handler(reader, writer)
        writer.close()

    server = await asyncio.start_server(wrapped, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield port, connections
    finally:
        server.close()


async def keep_alive_ok(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while True:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        await writer.drain()


def host_headers(port: int) -> list[tuple[bytes, bytes]]:
    return [(b"host", b"127.0.0.1:%d" % port)]


async def test_keep_alive_connection_is_reused():
    async with raw_server(keep_alive_ok) as (port, connections):
        pool = HTTPPool("127.0.0.1", port)
        for _ in range(5):
            response = await pool.request(b"GET", b"/", host_headers(port))
            assert await response.read() == b"ok"
            response.release()
        await pool.aclose()
    assert len(connections) == 1


async def test_close_delimited_body_is_read_to_the_end():
    async def handler(reader, writer):
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil-eof")
        await writer.drain()

    async with raw_server(handler) as (port, _):
        pool = HTTPPool("127.0.0.1", port)
        response = await pool.request(b"GET", b"/", host_headers(port))
        assert await response.read() == b"until-eof"
        response.release()
        await pool.aclose()


async def test_stale_keep_alive_connection_is_retried_for_idempotent_requests():
    async def one_shot(reader, writer):
        await reader.readuntil(b"\r\n\r\n")
        # Claims keep-alive, then hangs up: the pooled connection is dead on reuse.
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        await writer.drain()

    async with raw_server(one_shot) as (port, connections):
        pool = HTTPPool("127.0.0.1", port)
        first = await pool.request(b"GET", b"/", host_headers(port))
        await first.read()
        first.release()
        await asyncio.sleep(0.05)
        second = await pool.request(b"GET", b"/", host_headers(port), retry_idempotent=True)
        assert await second.read() == b"ok"
        second.release()
        await pool.aclose()
    assert len(connections) == 2


async def test_truncated_body_is_a_protocol_error():
    async def handler(reader, writer):
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort")
        await writer.drain()

    async with raw_server(handler) as (port, _):
        pool = HTTPPool("127.0.0.1", port)
        response = await pool.request(b"GET", b"/", host_headers(port))
        with pytest.raises(UpstreamProtocolError):
            await response.read()
        response.release()
        await pool.aclose()


async def test_head_response_has_no_body_and_connection_is_reused():
    async def handler(reader, writer):
        while True:
            await reader.readuntil(b"\r\n\r\n")
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n")
            await writer.drain()

    async with raw_server(handler) as (port, connections):
        pool = HTTPPool("127.0.0.1", port)
        for _ in range(2):
            response = await pool.request(b"HEAD", b"/", host_headers(port))
            assert response.status == 200
            assert await response.read() == b""
            response.release()
        await pool.aclose()
    assert len(connections) == 1


async def test_pool_limit_waits_then_gives_up():
    async def silent(reader, writer):
        await asyncio.sleep(5)

    async with raw_server(silent) as (port, _):
        pool = HTTPPool("127.0.0.1", port, max_connections=1, pool_timeout=0.1)
        hung = asyncio.create_task(pool.request(b"GET", b"/", host_headers(port), read_timeout=1))
        await asyncio.sleep(0.05)
        with pytest.raises(UpstreamUnavailable):
            await pool.request(b"GET", b"/", host_headers(port))
        with pytest.raises(UpstreamTimeout):
            await hung
        await pool.aclose()


async def test_refused_connection_is_unavailable():
    async with raw_server(keep_alive_ok) as (port, _):
        pass
    pool = HTTPPool("127.0.0.1", port)
    with pytest.raises(UpstreamUnavailable):
        await pool.request(b"GET", b"/", host_headers(port))
