"""Fake upstreams (HTTP, JWKS, raw-socket garbage, WebSocket echo) and gateways on
ephemeral ports, plus the real Redis (`PLATFORM_REDIS_URL`, default the local stack's)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import jwt
import pytest
import uvicorn
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from gateway.app import create_app
from gateway.routes import RouteTable
from gateway.settings import GatewaySettings
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed

REDIS_URL = os.environ.get("PLATFORM_REDIS_URL", "redis://127.0.0.1:6379/0")
KID = "test-key-1"
ISSUER = "platform-identity"
AUDIENCE = "platform"


@dataclass
class Keys:
    private_pem: bytes
    jwks: dict[str, Any]

    def token(self, sub: str | None = None, *, exp_in: float = 300, kid: str = KID) -> str:
        now = int(time.time())
        claims = {
            "sub": sub or str(uuid.uuid4()),
            "sid": str(uuid.uuid4()),
            "roles": ["user"],
            "iss": ISSUER,
            "aud": AUDIENCE,
            "iat": now,
            "exp": now + exp_in,
        }
        return jwt.encode(claims, self.private_pem, algorithm="RS256", headers={"kid": kid})


def make_keys() -> Keys:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    jwk.update({"kid": KID, "alg": "RS256", "use": "sig"})
    return Keys(pem, {"keys": [jwk]})


def upstream_app(keys: Keys, name: str) -> Starlette:
    async def echo(request: Request) -> Response:
        body = await request.body()
        return JSONResponse(
            {
                "upstream": name,
                "method": request.method,
                "path": request.url.path,
                "raw_path": request.scope["raw_path"].decode(),
                "query": request.url.query,
                "headers": [[k.decode(), v.decode()] for k, v in request.scope["headers"]],
                "body": body.decode("latin-1"),
                "body_len": len(body),
            },
            headers={"X-Upstream": name, "Connection": "keep-alive, X-Secret", "X-Secret": "1"},
        )

    async def slow(request: Request) -> Response:
        await asyncio.sleep(float(request.query_params.get("s", "2")))
        return PlainTextResponse("late")

    async def stream(request: Request) -> Response:
        async def chunks() -> AsyncIterator[bytes]:
            for i in range(5):
                yield f"chunk-{i};".encode()
                await asyncio.sleep(0.01)

        return StreamingResponse(chunks(), media_type="text/plain")

    async def big(request: Request) -> Response:
        return Response(b"z" * 300_000, media_type="application/octet-stream")

    async def status(request: Request) -> Response:
        code = int(request.path_params["code"])
        return JSONResponse({"code": code}, status_code=code)

    async def jwks(request: Request) -> Response:
        return JSONResponse(keys.jwks)

    async def openapi(request: Request) -> Response:
        return JSONResponse(
            {
                "openapi": "3.1.0",
                "info": {"title": name, "version": "1"},
                "paths": {
                    "/echo": {
                        "get": {
                            "operationId": "echo",
                            "responses": {
                                "200": {
                                    "content": {
                                        "application/json": {
                                            "schema": {"$ref": "#/components/schemas/Echo"}
                                        }
                                    }
                                }
                            },
                        }
                    }
                },
                "components": {"schemas": {"Echo": {"type": "object"}}},
            }
        )

    async def livez(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    return Starlette(
        routes=[
            Route("/echo", echo, methods=["GET", "POST", "PUT", "PATCH", "DELETE"]),
            Route("/echo/{rest:path}", echo, methods=["GET", "POST", "PUT"]),
            Route("/internal/secret", echo),
            Route("/me", echo),
            Route("/slow", slow),
            Route("/stream", stream),
            Route("/big", big),
            Route("/status/{code:int}", status),
            Route("/.well-known/jwks.json", jwks),
            Route("/openapi.json", openapi),
            Route("/livez", livez),
        ]
    )


async def start_uvicorn(app: Any) -> tuple[uvicorn.Server, asyncio.Task[None], int]:
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=0,
        lifespan="on",
        log_level="warning",
        loop="asyncio",
        proxy_headers=False,
        access_log=False,
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    for _ in range(500):
        if server.started:
            break
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    return server, task, port


async def stop_uvicorn(server: uvicorn.Server, task: asyncio.Task[None]) -> None:
    server.should_exit = True
    with contextlib.suppress(Exception):
        await asyncio.wait_for(task, 10)


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Stack:
    keys: Keys
    upstream_port: int
    garbage_port: int
    ws_port: int
    down_port: int

    def routes(self) -> RouteTable:
        return RouteTable.from_mapping(
            {
                "routes": {
                    "identity": f"http://127.0.0.1:{self.upstream_port}",
                    "content": f"http://127.0.0.1:{self.upstream_port}/echo",
                    "messaging": f"http://127.0.0.1:{self.upstream_port}",
                    "broken": {
                        "upstream": f"http://127.0.0.1:{self.garbage_port}",
                        "openapi": False,
                    },
                    "search": f"http://127.0.0.1:{self.down_port}",
                    "realtime": {"upstream": f"ws://127.0.0.1:{self.ws_port}", "openapi": False},
                    "realtimedown": {
                        "upstream": f"ws://127.0.0.1:{self.down_port}",
                        "openapi": False,
                    },
                }
            },
            environ={},
        )

    def settings(self, **overrides: Any) -> GatewaySettings:
        values: dict[str, Any] = {
            "redis_url": REDIS_URL,
            "jwks_url": f"http://127.0.0.1:{self.upstream_port}/.well-known/jwks.json",
            "rate_limit_key_prefix": f"gwtest:{uuid.uuid4().hex}:",
            "rate_limit_ip_burst": 100_000,
            "rate_limit_ip_rate": 10_000,
            "rate_limit_user_burst": 5,
            "rate_limit_user_rate": 0.5,
            "upstream_read_timeout_s": 0.5,
            "max_body_bytes": 64 * 1024 * 4,
        }
        values.update(overrides)
        return GatewaySettings(**values)


async def garbage_server() -> asyncio.Server:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(Exception):
            await reader.readuntil(b"\r\n\r\n")
            writer.write(b"THIS IS NOT HTTP\r\n\r\n")
            await writer.drain()
        writer.close()

    return await asyncio.start_server(handle, "127.0.0.1", 0)


async def ws_echo(conn: ServerConnection) -> None:
    with contextlib.suppress(ConnectionClosed):
        await _echo(conn)


async def _echo(conn: ServerConnection) -> None:
    async for message in conn:
        if message == "headers":
            assert conn.request is not None
            await conn.send(json.dumps(dict(conn.request.headers.raw_items())))
        elif message == "close-4001":
            await conn.close(4001, "bye from upstream")
            return
        else:
            await conn.send(message)


def pick_subprotocol(conn: ServerConnection, offered: Any) -> Any:
    for proto in ("chat.v2", "chat.v1"):
        if proto in offered:
            return proto
    return None


@pytest.fixture(scope="session")
async def stack() -> AsyncIterator[Stack]:
    keys = make_keys()
    up_server, up_task, up_port = await start_uvicorn(upstream_app(keys, "fake"))
    garbage = await garbage_server()
    garbage_port = garbage.sockets[0].getsockname()[1]
    ws = await serve(ws_echo, "127.0.0.1", 0, select_subprotocol=pick_subprotocol)
    ws_port = next(iter(ws.sockets)).getsockname()[1]
    try:
        yield Stack(keys, up_port, garbage_port, ws_port, closed_port())
    finally:
        ws.close()
        garbage.close()
        await stop_uvicorn(up_server, up_task)


@dataclass
class RunningGateway:
    url: str
    ws_url: str
    settings: GatewaySettings


@contextlib.asynccontextmanager
async def running_gateway(stack: Stack, **overrides: Any) -> AsyncIterator[RunningGateway]:
    settings = stack.settings(**overrides)
    server, task, port = await start_uvicorn(create_app(settings, stack.routes()))
    try:
        yield RunningGateway(f"http://127.0.0.1:{port}", f"ws://127.0.0.1:{port}", settings)
    finally:
        await stop_uvicorn(server, task)


@pytest.fixture(scope="session")
async def gateway(stack: Stack) -> AsyncIterator[RunningGateway]:
    async with running_gateway(stack) as gw:
        yield gw
