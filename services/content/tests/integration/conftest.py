"""Fixtures: one migrated throwaway database for the session, Redis database 3 for the
session's keys, tokens from a local signing key, and the app run in-process."""

from __future__ import annotations

import io
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from content.app import MIGRATIONS_DIR, create_app
from content.graph import handlers as identity_handlers
from content.runtime import Runtime
from content.settings import ContentSettings
from content.timelines import fanout
from fastapi import FastAPI
from kit.auth import JWKSCache, TokenVerifier
from kit.events import CloudEvent
from kit.testing import TokenFactory, fresh_database
from PIL import Image
from redis.asyncio import Redis
from sqlalchemy import text

REDIS_URL = "redis://127.0.0.1:6379/3"
FANOUT_LIMIT = 3


def base_settings(tmp: Path, **overrides: Any) -> ContentSettings:
    values: dict[str, Any] = {
        "environment": "test",
        "redis_url": REDIS_URL,
        "run_outbox_relay": False,
        "run_consumers": False,
        "run_view_flusher": False,
        "migrate_on_start": False,
        "media_dir": str(tmp / "media"),
        "image_max_bytes": 300_000,
        "video_max_bytes": 600_000,
        "post_max_chars": 500,
        "comment_max_chars": 200,
        "fanout_max_audience": FANOUT_LIMIT,
        "timeline_max_entries": 50,
    }
    values.update(overrides)
    return ContentSettings(**values)


@pytest.fixture(scope="session")
async def settings(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[ContentSettings]:
    async with fresh_database(
        base_settings(tmp_path_factory.mktemp("content")), MIGRATIONS_DIR
    ) as migrated:
        yield migrated


@pytest.fixture(scope="session")
def tokens() -> TokenFactory:
    return TokenFactory()


@pytest.fixture(scope="session")
async def app(settings: ContentSettings, tokens: TokenFactory) -> AsyncIterator[FastAPI]:
    redis = Redis.from_url(REDIS_URL)
    async for key in redis.scan_iter("content:*"):
        await redis.delete(key)
    await redis.aclose()
    application = create_app(settings)

    async def jwks() -> dict[str, Any]:
        return tokens.jwks()

    application.state.token_verifier = TokenVerifier(
        JWKSCache(fetch=jwks), issuer=settings.jwt_issuer, audience=settings.jwt_audience
    )
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
def rt(app: FastAPI) -> Runtime:
    runtime: Runtime = app.state.content
    return runtime


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://content") as c:
        yield c


@dataclass
class Person:
    id: str
    username: str
    token: str

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    @property
    def uid(self) -> uuid.UUID:
        return uuid.UUID(self.id)


def now_iso() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


async def apply_identity(app: FastAPI, event_type: str, data: dict[str, Any]) -> None:
    """Apply an identity event through the consumer's handler, as the consumer would."""
    event = CloudEvent.create(type=event_type, source="identity", subject=None, data=data)
    async with app.state.db.session() as session:
        await identity_handlers.handle(session, app.state.content, event)


@pytest.fixture
def person(app: FastAPI, tokens: TokenFactory) -> Callable[..., Any]:
    async def make(username: str | None = None) -> Person:
        user_id = str(uuid.uuid4())
        name = username or f"u_{uuid.uuid4().hex[:10]}"
        await apply_identity(
            app,
            "identity.user.registered",
            {
                "user_id": user_id,
                "username": name,
                "display_name": name,
                "bio": None,
                "avatar_url": None,
                "locale": "ar",
                "created_at": now_iso(),
                "updated_at": now_iso(),
            },
        )
        return Person(user_id, name, tokens.token(sub=user_id))

    return make


async def follow(app: FastAPI, follower: Person, followee: Person) -> None:
    await apply_identity(
        app,
        "identity.follow.created",
        {"follower_id": follower.id, "followee_id": followee.id, "created_at": now_iso()},
    )


async def block(app: FastAPI, blocker: Person, blocked: Person) -> None:
    await apply_identity(
        app,
        "identity.block.created",
        {"blocker_id": blocker.id, "blocked_id": blocked.id, "created_at": now_iso()},
    )


async def outbox(app: FastAPI, subject: str) -> list[tuple[str, dict[str, Any]]]:
    """(type, data) of the outbox rows about ``subject``, oldest first."""
    async with app.state.db.session() as session:
        rows = await session.execute(
            text("SELECT type, data FROM outbox WHERE subject = :s ORDER BY seq"), {"s": subject}
        )
        return [(r[0], r[1]) for r in rows]


async def fan_out(app: FastAPI, subject: str) -> None:
    """Run the timeline consumer's handler over the outbox events of ``subject``."""
    for event_type, data in await outbox(app, subject):
        event = CloudEvent.create(type=event_type, source="content", subject=subject, data=data)
        async with app.state.db.session() as session:
            await fanout.handle(session, app.state.content, event)


async def post(
    client: httpx.AsyncClient, author: Person, text: str = "hello", **body: Any
) -> dict[str, Any]:
    resp = await client.post("/posts", json={"text": text, **body}, headers=author.auth)
    assert resp.status_code == 201, resp.text
    data: dict[str, Any] = resp.json()
    return data


async def home_ids(client: httpx.AsyncClient, viewer: Person, **params: Any) -> list[str]:
    resp = await client.get("/timeline/home", headers=viewer.auth, params=params)
    assert resp.status_code == 200, resp.text
    return [p["id"] for p in resp.json()["items"]]


def png(size: tuple[int, int] = (16, 9)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, (10, 120, 200)).save(buf, format="PNG")
    return buf.getvalue()
