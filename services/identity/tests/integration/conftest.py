"""Fixtures: one migrated throwaway database for the session, the app run in-process."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from identity.app import MIGRATIONS_DIR, create_app
from identity.settings import IdentitySettings
from kit.testing import fresh_database
from redis.asyncio import Redis
from sqlalchemy import text

PASSWORD = "correct horse battery staple"


def base_settings(**overrides: Any) -> IdentitySettings:
    values: dict[str, Any] = {
        "environment": "test",
        "argon2_time_cost": 1,
        "argon2_memory_cost_kib": 8 * 1024,
        "argon2_parallelism": 1,
        "run_outbox_relay": False,
        "migrate_on_start": False,
        "trust_forwarded_for": True,
    }
    values.update(overrides)
    return IdentitySettings(**values)


@pytest.fixture(scope="session")
async def settings() -> AsyncIterator[IdentitySettings]:
    async with fresh_database(base_settings(), MIGRATIONS_DIR) as migrated:
        yield migrated


@pytest.fixture(scope="session")
async def app(settings: IdentitySettings) -> AsyncIterator[FastAPI]:
    redis = Redis.from_url(settings.redis_url)
    async for key in redis.scan_iter("identity:login-failures:*"):
        await redis.delete(key)
    await redis.aclose()
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    # A distinct client address per test keeps per-IP throttling from leaking across tests.
    ip = f"10.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}"
    transport = httpx.ASGITransport(app=app, client=(ip, 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://identity") as c:
        yield c


@dataclass
class Account:
    id: str
    username: str
    email: str
    password: str
    access: str = ""
    refresh: str = ""
    session_id: str = ""

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access}"}


def new_username(prefix: str = "u") -> str:
    return f"{prefix}_{uuid.uuid4().hex[:12]}"


async def register(client: httpx.AsyncClient, *, login: bool = True) -> Account:
    username = new_username()
    email = f"{username}@example.com"
    resp = await client.post(
        "/auth/register", json={"email": email, "username": username, "password": PASSWORD}
    )
    assert resp.status_code == 201, resp.text
    account = Account(resp.json()["id"], username, email, PASSWORD)
    if login:
        tokens = await login_ok(client, username, PASSWORD)
        account.access = tokens["access_token"]
        account.refresh = tokens["refresh_token"]
        account.session_id = tokens["session_id"]
    return account


async def login_ok(client: httpx.AsyncClient, login: str, password: str) -> dict[str, Any]:
    resp = await client.post("/auth/login", json={"login": login, "password": password})
    assert resp.status_code == 200, resp.text
    body: dict[str, Any] = resp.json()
    return body


async def outbox_events(app: FastAPI, subject: str) -> list[tuple[str, dict[str, Any]]]:
    """(type, data) of the outbox rows about ``subject``, oldest first."""
    async with app.state.db.session() as session:
        rows = await session.execute(
            text("SELECT type, data FROM outbox WHERE subject = :s ORDER BY seq"), {"s": subject}
        )
        return [(r[0], r[1]) for r in rows]
