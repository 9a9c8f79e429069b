"""HTTPPool.fetch (whole request, whole response) against small local servers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from kit.upstream import HTTPPool, UpstreamError

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]
Start = Callable[[Handler], Awaitable[int]]


async def read_request(reader: asyncio.StreamReader) -> tuple[bytes, bytes] | None:
    head = await reader.readuntil(b"\r\n\r\n")
    if not head:
        return None
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    body = await reader.readexactly(length) if length else b""
    return head, body


def respond(body: bytes, *, close: bool = False) -> bytes:
    extra = b"Connection: close\r\n" if close else b""
    return b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n%b\r\n%b" % (len(body), extra, body)


@pytest.fixture
async def server() -> AsyncIterator[Start]:
    servers: list[asyncio.Server] = []

    async def start(handler: Handler) -> int:
        srv = await asyncio.start_server(handler, "127.0.0.1", 0)
        servers.append(srv)
        return int(srv.sockets[0].getsockname()[1])

    yield start
    for srv in servers:
        srv.close()


async def test_requests_reuse_one_keep_alive_connection(server: Start) -> None:
    connections = 0
    seen: list[bytes] = []

    async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        while True:
            try:
                request = await read_request(reader)
            except asyncio.IncompleteReadError:
                break
            assert request is not None
            head, body = request
            seen.append(head)
            writer.write(respond(body or head.split(b" ")[1]))
            await writer.drain()
        writer.close()

    port = await server(echo)
    client = HTTPPool("127.0.0.1", port)
    try:
        assert await client.fetch("GET", "/a?b=1", headers={"X-Key": "k"}) == (200, b"/a?b=1")
        assert await client.fetch("POST", "/s", body='{"q":"قهوة"}'.encode()) == (
            200,
            '{"q":"قهوة"}'.encode(),
        )
    finally:
        await client.aclose()
    assert connections == 1
    assert b"X-Key: k\r\n" in seen[0] and b"host: 127.0.0.1:" in seen[0]
    assert b"content-type: application/json\r\ncontent-length: " in seen[1]


async def test_a_connection_the_server_closed_while_idle_is_replaced(server: Start) -> None:
    connections = 0

    async def one_per_connection(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        nonlocal connections
        connections += 1
        await read_request(reader)
        # Keep-alive advertised, then the connection is dropped (idle timeout).
        writer.write(respond(b"ok"))
        await writer.drain()
        writer.close()

    port = await server(one_per_connection)
    client = HTTPPool("127.0.0.1", port)
    try:
        assert await client.fetch("GET", "/") == (200, b"ok")
        await asyncio.sleep(0.05)
        assert await client.fetch("GET", "/") == (200, b"ok")
    finally:
        await client.aclose()
    assert connections == 2


async def test_a_silent_server_times_out_and_the_connection_is_not_reused(server: Start) -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        await asyncio.sleep(5)

    port = await server(silent)
    client = HTTPPool("127.0.0.1", port)
    try:
        with pytest.raises(UpstreamError):
            await client.fetch("GET", "/", limit_s=0.1)
        assert not client._idle
    finally:
        await client.aclose()


async def test_a_server_hanging_up_mid_response_is_an_error(server: Start) -> None:
    async def truncated(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial")
        await writer.drain()
        writer.close()

    port = await server(truncated)
    client = HTTPPool("127.0.0.1", port)
    try:
        with pytest.raises(UpstreamError):
            await client.fetch("GET", "/")
    finally:
        await client.aclose()


async def test_nothing_listening_is_unavailable() -> None:
    client = HTTPPool("127.0.0.1", 9)
    with pytest.raises(UpstreamError):
        await client.fetch("GET", "/", limit_s=1)
