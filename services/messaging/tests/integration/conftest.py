"""Fixtures: one migrated throwaway database for the session, the app run in-process
with tokens from a local signing key, and helpers that feed identity's events."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from kit.auth import JWKSCache, TokenVerifier
from kit.events import CloudEvent
from kit.testing import TokenFactory, fresh_database
from messaging.app import MIGRATIONS_DIR, create_app
from messaging.consumers.handler import EventHandler
from messaging.notifications.service import CONFIRM_SUBJECT
from messaging.settings import MessagingSettings
from redis.asyncio import Redis
from sqlalchemy import text

TOKENS = TokenFactory()


def base_settings(**overrides: Any) -> MessagingSettings:
    values: dict[str, Any] = {
        "environment": "test",
        "run_outbox_relay": False,
        "run_consumer": False,
        "run_jobs": False,
        "migrate_on_start": False,
        "presence_key_prefix": f"test-presence-{uuid.uuid4().hex[:8]}:",
    }
    values.update(overrides)
    return MessagingSettings(**values)


@pytest.fixture(scope="session")
async def settings() -> AsyncIterator[MessagingSettings]:
    async with fresh_database(base_settings(), MIGRATIONS_DIR) as migrated:
        yield migrated


@pytest.fixture(scope="session")
async def app(settings: MessagingSettings) -> AsyncIterator[FastAPI]:
    application = create_app(settings)

    async def jwks() -> dict[str, Any]:
        return TOKENS.jwks()

    application.state.token_verifier = TokenVerifier(
        JWKSCache(fetch=jwks), issuer=settings.jwt_issuer, audience=settings.jwt_audience
    )
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://messaging") as c:
        yield c


@pytest.fixture
async def redis(settings: MessagingSettings) -> AsyncIterator[Redis]:
    r = Redis.from_url(settings.redis_url)
    yield r
    async for key in r.scan_iter(f"{settings.presence_key_prefix}*"):
        await r.delete(key)
    await r.aclose()


@dataclass
class Person:
    id: uuid.UUID
    name: str

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {TOKENS.token(sub=self.id)}"}


def now_iso() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def event(type_: str, data: dict[str, Any], subject: str | None = None) -> CloudEvent:
    source = type_.split(".", 1)[0]
    return CloudEvent.create(type=type_, source=source, subject=subject, data=data)


async def apply(app: FastAPI, type_: str, data: dict[str, Any]) -> None:
    """Apply one incoming event through the consumer's handler (no Kafka, no inbox)."""
    handler = EventHandler(app.state.settings, app.state.messaging.redis)
    async with app.state.db.session() as session:
        await handler(session, event(type_, data))


_applied_sent: set[str] = set()


async def apply_sent(app: FastAPI, conversation: str | uuid.UUID) -> int:
    """Apply the conversation's ``messaging.message.sent`` events from the outbox that no
    earlier call applied, in order, through the consumer's handler (what the relay and
    the consumer do for them); how many were applied."""
    async with app.state.db.session() as session:
        rows = (
            await session.execute(
                text(
                    "SELECT id, type, data FROM outbox WHERE subject = :s"
                    " AND type = 'messaging.message.sent' ORDER BY seq"
                ),
                {"s": str(conversation)},
            )
        ).all()
    fresh = [(t, d) for i, t, d in rows if str(i) not in _applied_sent]
    _applied_sent.update(str(r[0]) for r in rows)
    for type_, data in fresh:
        await apply(app, type_, data)
    return len(fresh)


async def person(app: FastAPI, name: str | None = None) -> Person:
    """A user messaging knows about (as after identity.user.registered)."""
    user_id = uuid.uuid4()
    display = name or f"user-{user_id.hex[:6]}"
    stamp = now_iso()
    await apply(
        app,
        "identity.user.registered",
        {
            "user_id": str(user_id),
            "username": f"u_{user_id.hex[:10]}",
            "display_name": display,
            "bio": None,
            "avatar_url": None,
            "locale": "ar",
            "created_at": stamp,
            "updated_at": stamp,
        },
    )
    return Person(user_id, display)


async def block(app: FastAPI, blocker: Person, blocked: Person) -> None:
    await apply(
        app,
        "identity.block.created",
        {"blocker_id": str(blocker.id), "blocked_id": str(blocked.id), "created_at": now_iso()},
    )


async def unblock(app: FastAPI, blocker: Person, blocked: Person) -> None:
    await apply(
        app,
        "identity.block.removed",
        {"blocker_id": str(blocker.id), "blocked_id": str(blocked.id), "removed_at": now_iso()},
    )


async def outbox(app: FastAPI, subject: str | uuid.UUID) -> list[tuple[str, dict[str, Any]]]:
    """(type, data) of the outbox rows about ``subject``, oldest first."""
    async with app.state.db.session() as session:
        rows = await session.execute(
            text("SELECT type, data FROM outbox WHERE subject = :s ORDER BY seq"),
            {"s": str(subject)},
        )
        return [(r[0], r[1]) for r in rows]


async def notifications_of(client: httpx.AsyncClient, who: Person) -> list[dict[str, Any]]:
    resp = await client.get("/notifications", headers=who.auth, params={"limit": 100})
    assert resp.status_code == 200, resp.text
    items: list[dict[str, Any]] = resp.json()["items"]
    return items


async def direct(client: httpx.AsyncClient, a: Person, b: Person) -> str:
    resp = await client.post("/conversations/direct", json={"user_id": str(b.id)}, headers=a.auth)
    assert resp.status_code in (200, 201), resp.text
    conversation_id: str = resp.json()["id"]
    return conversation_id


async def mailed_code(app: FastAPI, user_id: uuid.UUID) -> str:
    """The code in the newest address-confirmation mail queued for ``user_id``."""
    async with app.state.db.session() as session:
        body = await session.scalar(
            text(
                "SELECT body FROM digests WHERE user_id = :u AND subject = :s"
                " ORDER BY created_at DESC LIMIT 1"
            ),
            {"u": user_id, "s": CONFIRM_SUBJECT},
        )
    assert body, "no confirmation mail was queued"
    found = re.search(r"\b([0-9]{6})\b", body)
    assert found, body
    return found.group(1)


async def confirmed_email(
    client: httpx.AsyncClient,
    app: FastAPI,
    who: Person,
    address: str,
    channels: dict[str, str] | None = None,
) -> None:
    """Set ``address`` (and ``channels``) and confirm it with the mailed code, as a user
    would; the confirmation mail is then dropped so the digest queue holds digests only."""
    resp = await client.put(
        "/notifications/preferences",
        json={"channels": channels or {}, "email": address},
        headers=who.auth,
    )
    assert resp.status_code == 200, resp.text
    code = await mailed_code(app, who.id)
    resp = await client.post(
        "/notifications/preferences/email/confirm", json={"code": code}, headers=who.auth
    )
    assert resp.status_code == 200, resp.text
    async with app.state.db.session() as session:
        await session.execute(
            text("DELETE FROM digests WHERE user_id = :u AND subject = :s"),
            {"u": who.id, "s": CONFIRM_SUBJECT},
        )
