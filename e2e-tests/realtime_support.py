"""Helpers for the realtime system tests: WebSocket clients through the gateway, a
second realtime node started from the built binary, and synthetic Kafka events."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import socket
import time
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
from aiokafka import AIOKafkaProducer
from e2e_support import GATEWAY, KAFKA, ROOT, User
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

WS_GATEWAY = GATEWAY.replace("http", "ws", 1) + "/v1/realtime"
REALTIME = os.environ.get("PLATFORM_REALTIME_URL", "http://127.0.0.1:8090")
BINARY = ROOT / "realtime-go" / "bin" / "realtime"


class Socket:
    """A realtime client: frames are read in the background into a queue."""

    def __init__(self, ws: ClientConnection, welcome: dict[str, Any]) -> None:
        self.ws = ws
        self.welcome = welcome
        self.frames: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        with contextlib.suppress(ConnectionClosed):
            async for raw in self.ws:
                self.frames.put_nowait(json.loads(raw))

    async def send(self, frame: dict[str, Any]) -> None:
        await self.ws.send(json.dumps(frame))

    async def expect(
        self, match: Callable[[dict[str, Any]], bool] | str, timeout: float = 15
    ) -> dict[str, Any]:
        """The first frame that `match` accepts (or whose type is `match`)."""
        pred = (lambda f: f.get("type") == match) if isinstance(match, str) else match
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise AssertionError(f"no matching frame within {timeout}s")
            frame = await asyncio.wait_for(self.frames.get(), remaining)
            if pred(frame):
                return frame

    async def events(self, settle: float = 1.5, timeout: float = 15) -> list[dict[str, Any]]:
        """Event frames until none came for `settle` seconds (or `timeout` passed)."""
        out: list[dict[str, Any]] = []
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline:
            try:
                frame = await asyncio.wait_for(self.frames.get(), settle)
            except TimeoutError:
                break
            if frame.get("type") == "event":
                out.append(frame)
        return out

    async def closed(self, timeout: float = 10) -> tuple[int | None, str]:
        await asyncio.wait_for(self._reader, timeout)
        return self.ws.close_code, self.ws.close_reason or ""

    async def close(self) -> None:
        await self.ws.close()
        self._reader.cancel()


async def open_socket(user: User, url: str = WS_GATEWAY, **kwargs: Any) -> Socket:
    """Connect with the access token as a `bearer.<token>` subprotocol (never in the
    URL) and wait for the welcome frame."""
    ws = await connect(
        url, subprotocols=["realtime.v1", f"bearer.{user.access_token}"], max_size=2**22, **kwargs
    )
    welcome = json.loads(await asyncio.wait_for(ws.recv(), 10))
    assert welcome["type"] == "welcome", welcome
    assert welcome["user_id"] == user.id
    return Socket(ws, welcome)


@contextlib.asynccontextmanager
async def sockets(*pairs: tuple[User, str]) -> AsyncIterator[list[Socket]]:
    opened = [await open_socket(user, url) for user, url in pairs]
    try:
        yield opened
    finally:
        for s in opened:
            with contextlib.suppress(Exception):
                await s.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.asynccontextmanager
async def second_node() -> AsyncIterator[str]:
    """Run another realtime node from the built binary; yields its ws:// URL."""
    if not BINARY.exists():
        build = await asyncio.create_subprocess_exec(
            "go", "build", "-o", "bin/realtime", "./cmd/realtime", cwd=ROOT / "realtime-go"
        )
        assert await asyncio.wait_for(build.wait(), 300) == 0, "go build failed"
    port = free_port()
    env = {
        **os.environ,
        "REALTIME_HTTP_PORT": str(port),
        "REALTIME_NODE_ID": f"e2e-{uuid.uuid4().hex[:8]}",
        "REALTIME_LOG_LEVEL": "WARNING",
    }
    log = Path(os.environ.get("TMPDIR", "/tmp")) / f"realtime-e2e-{port}.log"
    with log.open("wb") as out:
        proc = await asyncio.create_subprocess_exec(
            str(BINARY), env=env, stdout=out, stderr=asyncio.subprocess.STDOUT
        )
    try:
        async with httpx.AsyncClient() as http:
            for _ in range(150):
                with contextlib.suppress(httpx.HTTPError):
                    if (await http.get(f"http://127.0.0.1:{port}/readyz")).status_code == 200:
                        break
                assert proc.returncode is None, log.read_text()
                await asyncio.sleep(0.1)
            else:
                raise AssertionError("second realtime node never became ready")
        # Its group-less consumer resolves start offsets right after startup.
        await asyncio.sleep(1.5)
        yield f"ws://127.0.0.1:{port}/"
    finally:
        proc.terminate()
        try:
            await asyncio.wait_for(proc.wait(), 15)
        except TimeoutError:
            proc.kill()
            await proc.wait()


def uuid7() -> str:
    ms = int(time.time() * 1000)
    rand = secrets.randbits(74)
    value = (
        (ms << 80) | (0x7 << 76) | ((rand >> 62) << 64) | (0b10 << 62) | (rand & ((1 << 62) - 1))
    )
    return str(uuid.UUID(int=value))


async def publish(topic: str, event_type: str, key: str, data: dict[str, Any]) -> str:
    """Publish one well-formed platform event, as a producing service would."""
    context, rest = event_type.split(".", 1)
    event_id = uuid7()
    headers = {
        "ce_specversion": "1.0",
        "ce_id": event_id,
        "ce_source": context,
        "ce_type": event_type,
        "ce_time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "ce_subject": key,
        "ce_dataschema": f"https://schemas.platform.example/{context}/{rest}/v1.json",
        "content-type": "application/json",
    }
    producer = AIOKafkaProducer(bootstrap_servers=KAFKA)
    await producer.start()
    try:
        await producer.send_and_wait(
            topic,
            json.dumps(data).encode(),
            key=key.encode(),
            headers=[(k, v.encode()) for k, v in headers.items()],
        )
    finally:
        await producer.stop()
    return event_id
