"""The local stack runs real servers, and each service's database role is fenced in."""

from __future__ import annotations

import asyncio
import os
import uuid

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from kit.testing import unique_topic
from redis.asyncio import Redis

pytestmark = pytest.mark.integration

PG = "postgresql://{user}:{password}@127.0.0.1:5432/platform"
TYPESENSE = "http://127.0.0.1:8108"
TYPESENSE_KEY = os.environ.get("PLATFORM_TYPESENSE_API_KEY", "dev-typesense-key")


async def test_service_role_owns_its_schema_and_nothing_else() -> None:
    conn = await asyncpg.connect(PG.format(user="identity", password="identity"))
    try:
        assert await conn.fetchval("SHOW search_path") == "identity"
        table = f"probe_{uuid.uuid4().hex[:8]}"
        await conn.execute(f"CREATE TABLE identity.{table} (id int)")
        await conn.execute(f"DROP TABLE identity.{table}")
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.execute("CREATE TABLE content.intruder (id int)")
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.execute("CREATE TABLE public.intruder (id int)")
    finally:
        await conn.close()


async def test_service_role_cannot_log_in_with_a_wrong_password() -> None:
    with pytest.raises(asyncpg.InvalidPasswordError):
        await asyncpg.connect(PG.format(user="identity", password="wrong"))


async def test_kafka_round_trips_a_keyed_message_with_headers() -> None:
    topic = unique_topic("test.stack")  # deleted at the end of the session
    producer = AIOKafkaProducer(
        bootstrap_servers="127.0.0.1:9092", acks="all", enable_idempotence=True
    )
    await producer.start()
    try:
        await producer.send_and_wait(
            topic, b'{"ok":true}', key=b"k1", headers=[("ce_type", b"test.probe")]
        )
    finally:
        await producer.stop()
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers="127.0.0.1:9092",
        auto_offset_reset="earliest",
        group_id=f"g-{topic}",
    )
    await consumer.start()
    try:
        record = await asyncio.wait_for(consumer.getone(), timeout=30)
    finally:
        await consumer.stop()
    assert record.key == b"k1"
    assert record.value == b'{"ok":true}'
    assert dict(record.headers)["ce_type"] == b"test.probe"


async def test_redis_answers() -> None:
    redis = Redis.from_url("redis://127.0.0.1:6379/0")
    key = f"test:{uuid.uuid4().hex}"
    try:
        await redis.set(key, "مرحبا", ex=10)
        assert (await redis.get(key)).decode() == "مرحبا"
    finally:
        await redis.aclose()


async def test_typesense_serves_its_api_with_the_key_only() -> None:
    async with httpx.AsyncClient(base_url=TYPESENSE, timeout=10) as client:
        assert (await client.get("/health")).json() == {"ok": True}
        assert (await client.get("/collections")).status_code == 401
        name = f"probe_{uuid.uuid4().hex[:8]}"
        headers = {"X-TYPESENSE-API-KEY": TYPESENSE_KEY}
        created = await client.post(
            "/collections",
            headers=headers,
            json={
                "name": name,
                "fields": [{"name": "title", "type": "string"}],
            },
        )
        assert created.status_code == 201, created.text
        await client.delete(f"/collections/{name}", headers=headers)
