"""Fixtures: a migrated throwaway database, private Typesense collections (own prefix),
fresh Kafka topics, the app in-process, and a producer of identity/content events."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from fastapi import FastAPI
from kit.auth import JWKSCache, TokenVerifier
from kit.events import CloudEvent
from kit.testing import TokenFactory, create_topics, fresh_database, unique_topic
from search.app import MIGRATIONS_DIR, create_app, make_consumer
from search.runtime import Runtime
from search.settings import SearchSettings

import contracts

pytestmark = pytest.mark.integration


def base_settings(**overrides: Any) -> SearchSettings:
    tag = uuid.uuid4().hex[:8]
    values: dict[str, Any] = {
        "environment": "test",
        "run_consumer": False,
        "migrate_on_start": False,
        "collection_prefix": f"t{tag}_",
        "consumer_group": f"search-test-{tag}",
        "identity_user_topic": unique_topic("identity.user"),
        "identity_graph_topic": unique_topic("identity.graph"),
        "content_post_topic": unique_topic("content.post"),
        "content_community_topic": unique_topic("content.community"),
    }
    values.update(overrides)
    return SearchSettings(**values)


@pytest.fixture(scope="session")
async def settings() -> AsyncIterator[SearchSettings]:
    base = base_settings()
    await create_topics(base.kafka_bootstrap_servers, base.topics)
    try:
        async with fresh_database(base, MIGRATIONS_DIR) as migrated:
            yield migrated
    finally:
        await _delete_topics(base)


async def _delete_topics(settings: SearchSettings) -> None:
    """Remove this run's topics and their dead-letter topics from the shared broker."""
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        ours = [t for t in existing if any(t.startswith(base) for base in settings.topics)]
        if ours:
            with contextlib.suppress(Exception):
                await admin.delete_topics(ours)
    finally:
        await admin.close()


@pytest.fixture(scope="session")
def tokens() -> TokenFactory:
    return TokenFactory()


@pytest.fixture(scope="session")
async def app(settings: SearchSettings, tokens: TokenFactory) -> AsyncIterator[FastAPI]:
    application = create_app(settings)

    async def jwks() -> dict[str, Any]:
        return tokens.jwks()

    application.state.token_verifier = TokenVerifier(
        JWKSCache(fetch=jwks), issuer=settings.jwt_issuer, audience=settings.jwt_audience
    )
    async with application.router.lifespan_context(application):
        yield application
        await application.state.search.collections.drop_all()


@pytest.fixture(scope="session")
def runtime(app: FastAPI) -> Runtime:
    rt: Runtime = app.state.search
    return rt


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://search") as c:
        yield c


@pytest.fixture(scope="session")
async def producer(settings: SearchSettings) -> AsyncIterator[AIOKafkaProducer]:
    p = AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap_servers, enable_idempotence=True, acks="all"
    )
    await p.start()
    yield p
    await p.stop()


Publish = Callable[..., Awaitable[CloudEvent]]


def now(offset_s: float = 0.0) -> str:
    return (datetime.now(UTC) + timedelta(seconds=offset_s)).isoformat().replace("+00:00", "Z")


def make_event(type_: str, data: dict[str, Any], *, validate: bool = True) -> CloudEvent:
    """A CloudEvent as the owning service would publish it; its data is checked against
    the contract (``validate=False`` makes a broken event on purpose)."""
    if validate:
        contracts.validate(type_, data)
    subject_field = {
        "identity.user": "user_id",
        "identity.follow": "follower_id",
        "identity.block": "blocker_id",
        "content.post": "post_id",
        "content.community": "community_id",
    }[type_.rsplit(".", 1)[0]]
    return CloudEvent.create(
        type=type_,
        source=type_.split(".")[0],
        subject=str(data.get(subject_field)),
        data=data,
    )


def topic_of(settings: SearchSettings, type_: str) -> str:
    prefix = type_.rsplit(".", 1)[0]
    return {
        "identity.user": settings.identity_user_topic,
        "identity.follow": settings.identity_graph_topic,
        "identity.block": settings.identity_graph_topic,
        "content.post": settings.content_post_topic,
        "content.community": settings.content_community_topic,
    }[prefix]


@pytest.fixture(scope="session")
def publish(settings: SearchSettings, producer: AIOKafkaProducer) -> Publish:
    async def send(
        type_: str,
        data: dict[str, Any],
        *,
        event: CloudEvent | None = None,
        validate: bool = True,
    ) -> CloudEvent:
        event = event or make_event(type_, data, validate=validate)
        key, value, headers = event.to_kafka()
        await producer.send_and_wait(
            topic_of(settings, type_), value=value, key=key, headers=headers
        )
        return event

    return send


@pytest.fixture
async def apply(app: FastAPI, runtime: Runtime) -> Callable[[str, dict[str, Any]], Awaitable[None]]:
    """Apply one event the way the live consumer does (read model + index), without Kafka."""
    from search.indexing.service import make_handler

    handler = make_handler(runtime.indexer)

    async def run(type_: str, data: dict[str, Any]) -> None:
        async with app.state.db.session() as session:
            await handler(session, make_event(type_, data))

    return run


@contextlib.asynccontextmanager
async def running_consumer(app: FastAPI, settings: SearchSettings) -> AsyncIterator[Any]:
    consumer = make_consumer(settings, app.state.db, app.state.search)
    task = asyncio.create_task(consumer.run())
    try:
        yield consumer
    finally:
        await consumer.stop()
        await asyncio.wait_for(task, 15)


# --- event data builders (the agreed shapes) ---------------------------------------


def new_id() -> str:
    return str(uuid.uuid4())


def user_data(user_id: str | None = None, **overrides: Any) -> dict[str, Any]:
    uid = user_id or new_id()
    data = {
        "user_id": uid,
        "username": f"user_{uid[:8]}",
        "display_name": "مستخدم",
        "bio": None,
        "avatar_url": None,
        "locale": "ar",
        "created_at": now(-60),
        "updated_at": now(),
    }
    data.update(overrides)
    return data


def post_data(author_id: str, text: str, **overrides: Any) -> dict[str, Any]:
    data = {
        "post_id": new_id(),
        "author_id": author_id,
        "community_id": None,
        "community_visibility": None,
        "kind": "post",
        "text": text,
        "hashtags": [],
        "mentions": [],
        "media": [],
        "visibility": "public",
        "created_at": now(),
        "updated_at": now(),
        "edited_at": None,
        "reaction_counts": {},
        "comment_count": 0,
    }
    data.update(overrides)
    return data


def community_data(owner_id: str, name: str, **overrides: Any) -> dict[str, Any]:
    cid = new_id()
    data = {
        "community_id": cid,
        "slug": f"c-{cid[:8]}",
        "name": name,
        "description": "",
        "visibility": "public",
        "category": None,
        "tags": [],
        "owner_id": owner_id,
        "member_count": 1,
        "created_at": now(),
        "updated_at": now(),
    }
    data.update(overrides)
    return data


def membership_data(community_id: str, user_id: str, visibility: str, **kw: Any) -> dict[str, Any]:
    return {
        "community_id": community_id,
        "user_id": user_id,
        "role": kw.get("role", "member"),
        "at": kw.get("at", now()),
        "visibility": visibility,
    }
