"""Fixtures for system tests that drive the running platform through the gateway.

`make test` starts the platform first (`make up`); these tests talk to it over HTTP
and read Kafka directly, as an outside client and an outside data consumer would.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import httpx
import pytest
from e2e_support import GATEWAY, REDIS, TopicTail, User, login, register
from redis.asyncio import Redis


@pytest.fixture(scope="session", autouse=True)
async def _fresh_login_throttle() -> None:
    """Earlier runs from the same address must not throttle this one."""
    redis = Redis.from_url(REDIS)
    try:
        async for key in redis.scan_iter("identity:login-failures:*"):
            await redis.delete(key)
    finally:
        await redis.aclose()


@pytest.fixture
async def api() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=GATEWAY, timeout=15) as client:
        yield client


@pytest.fixture
def make_user(api: httpx.AsyncClient) -> Callable[[], Awaitable[User]]:
    """Registers and logs in a fresh user."""

    async def make() -> User:
        creds, body = await register(api)
        resp = await login(api, creds["username"], creds["password"])
        assert resp.status_code == 200, resp.text
        tokens = resp.json()
        return User(
            id=str(body["id"]),
            username=creds["username"],
            email=creds["email"],
            password=creds["password"],
            access_token=tokens["access_token"],
            refresh_token=tokens["refresh_token"],
        )

    return make


@pytest.fixture
async def tail() -> AsyncIterator[Callable[[str], Awaitable[TopicTail]]]:
    """Opens readers positioned at the current end of a topic; closes them afterwards."""
    tails: list[TopicTail] = []

    async def open_tail(topic: str) -> TopicTail:
        t = TopicTail(topic)
        await t.start()
        tails.append(t)
        return t

    yield open_tail
    for t in tails:
        await t.stop()
