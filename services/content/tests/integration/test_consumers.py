"""The identity and timeline consumers against real Kafka, each test on fresh topics."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from aiokafka import AIOKafkaProducer
from content.workers import identity_consumer
from fastapi import FastAPI
from kit.consumer import dlq_topic
from kit.events import CloudEvent
from kit.testing import consume, create_topics, unique_topic, wait_until
from sqlalchemy import text

from .conftest import now_iso

pytestmark = pytest.mark.integration


async def _send(settings, topic: str, events: list[CloudEvent | tuple[bytes, list]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap_servers)
    await producer.start()
    try:
        for event in events:
            if isinstance(event, CloudEvent):
                msg = event.to_kafka()
                await producer.send_and_wait(
                    topic, value=msg.value, key=msg.key, headers=msg.headers
                )
            else:
                value, headers = event
                await producer.send_and_wait(topic, value=value, key=b"k", headers=headers)
    finally:
        await producer.stop()


def _follow(follower: str, followee: str) -> CloudEvent:
    return CloudEvent.create(
        type="identity.follow.created",
        source="identity",
        subject=follower,
        data={"follower_id": follower, "followee_id": followee, "created_at": now_iso()},
    )


async def _followers(app: FastAPI, user_id: str) -> int:
    async with app.state.db.session() as session:
        count = await session.scalar(
            text("SELECT followers FROM follower_counts WHERE user_id = :u"), {"u": user_id}
        )
    return int(count or 0)


async def test_redelivered_event_changes_nothing_and_bad_events_go_to_the_dlq(
    app: FastAPI, settings
) -> None:
    topic = unique_topic("identity.graph.v1")
    # Its own group: joining the running service's group would make it rebalance.
    group = f"content-test-{uuid.uuid4().hex[:8]}"
    await create_topics(settings.kafka_bootstrap_servers, [topic, dlq_topic(topic, group)])
    rt = app.state.content
    consumer = identity_consumer(rt, app.state.db, topics=(topic,), group_id=group)
    task = asyncio.create_task(consumer.run())
    try:
        star, fan = str(uuid.uuid4()), str(uuid.uuid4())
        event = _follow(fan, star)
        self_follow = _follow(fan, fan)  # schema-valid, but cannot be applied
        not_a_contract = CloudEvent.create(
            type="identity.follow.created",
            source="identity",
            subject=fan,
            data={"follower_id": fan, "followee_id": star, "created_at": now_iso()},
        )
        broken = not_a_contract.to_kafka()
        garbage = (b"{not json", list(broken.headers))
        later = _follow(str(uuid.uuid4()), star)
        await _send(settings, topic, [event, event, self_follow, garbage, later])

        async def applied() -> bool:
            return await _followers(app, star) >= 2 and consumer.dead_lettered >= 2

        await wait_until(applied, within_s=30)
        assert await _followers(app, star) == 2  # the redelivered follow counted once
        assert consumer.duplicates >= 1
        dead = await consume(settings.kafka_bootstrap_servers, dlq_topic(topic, group), count=2)
        reasons = sorted(dict(r.headers)["dlq_error_type"].decode() for r in dead)
        assert reasons == ["EventDecodeError", "PermanentError"]
    finally:
        await consumer.stop()
        await asyncio.wait_for(task, 15)
