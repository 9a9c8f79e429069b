"""The event consumer against real Kafka: batching, redelivery, dead letters."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from fastapi import FastAPI
from kit.consumer import EventConsumer, dlq_topic
from kit.events import CloudEvent
from kit.testing import consume, create_topics, unique_topic, wait_until
from messaging.app import make_consumer
from messaging.settings import MessagingSettings
from redis.asyncio import Redis
from sqlalchemy import text

from .conftest import event, notifications_of, now_iso, outbox, person

pytestmark = pytest.mark.integration


@contextlib.asynccontextmanager
async def running(
    app: FastAPI, settings: MessagingSettings, topic: str
) -> AsyncIterator[EventConsumer]:
    configured = settings.model_copy(
        update={"consumed_topics": [topic], "consumer_group": unique_topic("messaging-test")}
    )
    consumer = make_consumer(configured, app.state.db)
    consumer.backoff_initial = 0.05
    task = asyncio.create_task(consumer.run())
    try:
        yield consumer
    finally:
        await consumer.stop()
        await asyncio.wait_for(task, 15)


async def publish(topic: str, events: list[CloudEvent | tuple[bytes, bytes]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers="127.0.0.1:9092", enable_idempotence=True)
    await producer.start()
    try:
        for item in events:
            if isinstance(item, CloudEvent):
                message = item.to_kafka()
                await producer.send_and_wait(
                    topic, value=message.value, key=message.key, headers=message.headers
                )
            else:
                await producer.send_and_wait(topic, value=item[1], key=item[0])
    finally:
        await producer.stop()


def reaction_event(author: uuid.UUID, user: uuid.UUID, post: uuid.UUID) -> CloudEvent:
    return event(
        "content.reaction.added",
        {
            "target_type": "post",
            "target_id": str(post),
            "post_id": str(post),
            "target_author_id": str(author),
            "user_id": str(user),
            "kind": "like",
            "at": now_iso(),
            "counts": {"like": 1},
        },
        subject=str(post),
    )


def processed(consumer: EventConsumer) -> int:
    return consumer.applied + consumer.duplicates + consumer.dead_lettered + consumer.skipped


async def test_fifty_reactions_become_one_notification_and_redelivery_changes_nothing(
    client: httpx.AsyncClient, app: FastAPI, settings: MessagingSettings
) -> None:
    author = await person(app)
    post = uuid.uuid4()
    topic = unique_topic("content.reaction")
    await create_topics(settings.kafka_bootstrap_servers, [topic])
    reactions = [reaction_event(author.id, uuid.uuid4(), post) for _ in range(50)]
    # Each event twice: redelivery must change nothing.
    await publish(topic, [*reactions, *reactions[:10]])
    async with running(app, settings, topic) as consumer:

        async def all_seen() -> bool:
            return processed(consumer) >= 60

        await wait_until(all_seen, within_s=40)
    assert (consumer.applied, consumer.duplicates, consumer.dead_lettered) == (50, 10, 0)
    [note] = await notifications_of(client, author)
    assert note["type"] == "reaction" and note["subject_id"] == str(post)
    assert note["actor_count"] == 50
    assert len(note["actor_ids"]) == settings.notification_actor_cap
    assert note["actor_ids"][0] == reactions[-1].data["user_id"]


async def test_a_failing_event_goes_to_the_dead_letter_topic_and_the_consumer_goes_on(
    client: httpx.AsyncClient, app: FastAPI, settings: MessagingSettings
) -> None:
    author, fan = await person(app), await person(app)
    topic = unique_topic("identity.graph")
    await create_topics(settings.kafka_bootstrap_servers, [topic])
    broken = event(
        "moderation.decision.made",
        {"decision_id": "nope", "subject_user_id": str(author.id), "outcome": "x"},
        subject=str(author.id),
    )
    good = event(
        "identity.follow.created",
        {"follower_id": str(fan.id), "followee_id": str(author.id), "created_at": now_iso()},
        subject=str(fan.id),
    )
    await publish(topic, [broken, (b"k", b"not an event"), good])
    async with running(app, settings, topic) as consumer:

        async def all_seen() -> bool:
            return processed(consumer) >= 3

        await wait_until(all_seen, within_s=40)
        group = consumer.group_id
    assert (consumer.applied, consumer.dead_lettered) == (1, 2)
    [note] = await notifications_of(client, author)
    assert note["type"] == "follow" and note["actor_ids"] == [str(fan.id)]
    dead = await consume(settings.kafka_bootstrap_servers, dlq_topic(topic, group), count=2)
    assert len(dead) == 2
    headers = [dict(r.headers) for r in dead]
    assert {h["dlq_error_type"] for h in headers} == {b"PermanentError", b"EventDecodeError"}
    assert all(h["dlq_consumer_group"] == group.encode() for h in headers)


async def test_sent_messages_notify_offline_recipients_once_and_skip_old_messages(
    client: httpx.AsyncClient, app: FastAPI, settings: MessagingSettings, redis: Redis
) -> None:
    sender, offline, online = await person(app), await person(app), await person(app)
    resp = await client.post(
        "/conversations/groups",
        json={"title": "g", "member_ids": [str(offline.id), str(online.id)]},
        headers=sender.auth,
    )
    group = resp.json()["id"]
    await redis.set(f"{settings.presence_key_prefix}{online.id}", "1", ex=60)
    sent = (
        await client.post(
            f"/conversations/{group}/messages", json={"text": "hi"}, headers=sender.auth
        )
    ).json()
    [(type_, data)] = [(t, d) for t, d in await outbox(app, group) if t == "messaging.message.sent"]
    fresh = event(type_, data, subject=group)
    stale = event(
        type_,
        {
            **data,
            "message_id": str(uuid.uuid4()),
            "created_at": (datetime.now(UTC) - timedelta(hours=2)).isoformat(),
        },
        subject=group,
    )
    everyone_online = event(
        type_,
        {
            **data,
            "message_id": str(uuid.uuid4()),
            "participant_ids": [str(sender.id), str(online.id)],
        },
        subject=group,
    )
    topic = unique_topic("messaging.message")
    await create_topics(settings.kafka_bootstrap_servers, [topic])
    # The fresh event twice: the redelivery must not notify again.
    await publish(topic, [stale, fresh, everyone_online, fresh])
    async with running(app, settings, topic) as consumer:

        async def all_seen() -> bool:
            return processed(consumer) >= 4

        await wait_until(all_seen, within_s=40)
    # The old message and the one whose recipients are all online could notify nobody:
    # declined before any transaction, so no inbox row either.
    assert (consumer.applied, consumer.duplicates, consumer.skipped) == (1, 1, 2)
    assert consumer.dead_lettered == 0
    async with app.state.db.session() as session:
        rows = await session.scalar(
            text("SELECT count(*) FROM inbox WHERE consumer_group = :g"),
            {"g": consumer.group_id},
        )
    assert rows == 1
    [note] = await notifications_of(client, offline)
    assert note["type"] == "message" and note["subject_id"] == group
    assert note["actor_ids"] == [str(sender.id)] and note["actor_count"] == 1
    assert note["created_at"].startswith(sent["created_at"][:19])
    assert await notifications_of(client, online) == []
    assert await notifications_of(client, sender) == []
    changes = [t for t, _ in await outbox(app, offline.id) if t.startswith("messaging.notif")]
    assert changes == ["messaging.notification.created"]
