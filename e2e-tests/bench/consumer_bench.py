"""Consumer catch-up: how fast a service applies a backlog, one event per transaction
versus the kit's chunks (``consumer_batch_size``).

Messaging's real consumer handler (the one ``messaging consume`` runs) against a fresh
database of its own, fed ``identity.follow.created`` events from a private topic of the
running Kafka (three partitions, keyed by follower as identity keys them). For each
batch size the whole backlog is applied by a new consumer group; the figures are
events per second (first event applied → last) and this process's CPU per event
(consumer, asyncpg and aiokafka all run in it; PostgreSQL's own CPU is not counted).
Every run ends with the follows table holding exactly the backlog's follows.

Usage: ``uv run python e2e-tests/bench/consumer_bench.py [--events 20000] [--batches 1,100]``
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid
from datetime import UTC, datetime

from aiokafka import AIOKafkaProducer
from benchlib import machine_info, save_results
from kit.consumer import EventConsumer
from kit.db import Database
from kit.events import CloudEvent
from kit.testing import create_topics, fresh_database, unique_topic
from messaging.app import MIGRATIONS_DIR
from messaging.consumers.handler import EventHandler
from messaging.settings import MessagingSettings
from sqlalchemy import text

BOOTSTRAP = "127.0.0.1:9092"


async def publish_follows(topic: str, count: int, users: int = 1000) -> None:
    people = [str(uuid.uuid4()) for _ in range(users)]
    producer = AIOKafkaProducer(bootstrap_servers=BOOTSTRAP, acks="all", linger_ms=20)
    await producer.start()
    try:
        pending = []
        for i in range(count):
            follower, followee = people[i % users], people[(i // users + i + 1) % users]
            event = CloudEvent.create(
                type="identity.follow.created",
                source="identity",
                subject=follower,
                data={
                    "follower_id": follower,
                    "followee_id": followee,
                    "created_at": datetime.now(UTC).isoformat(),
                },
                dataschema="https://schemas.platform.example/identity/follow.created/v1.json",
            )
            key, value, headers = event.to_kafka()
            pending.append(await producer.send(topic, value=value, key=key, headers=headers))
        await asyncio.gather(*pending)
    finally:
        await producer.stop()


async def run_one(settings: MessagingSettings, topic: str, count: int, batch: int) -> dict:
    db = Database(settings)
    handler = EventHandler(settings)
    consumer = EventConsumer(
        settings, db, unique_topic("bench"), [topic], handler, validate=True, batch_size=batch
    )
    async with db.session() as s:
        await s.execute(text("TRUNCATE follows"))
    task = asyncio.create_task(consumer.run())
    started = cpu0 = None
    try:
        while consumer.applied + consumer.duplicates < count:
            if started is None and consumer.applied:
                started, cpu0 = time.perf_counter(), time.process_time()
            await asyncio.sleep(0.01)
        elapsed = time.perf_counter() - (started or time.perf_counter())
        cpu = time.process_time() - (cpu0 or time.process_time())
    finally:
        await consumer.stop()
        await asyncio.wait_for(task, 30)
        await handler.aclose()
    async with db.session() as s:
        follows = await s.scalar(text("SELECT count(*) FROM follows"))
    await db.dispose()
    return {
        "batch_size": batch,
        "events": count,
        "seconds": round(elapsed, 2),
        "events_per_s": round(count / elapsed, 1) if elapsed else None,
        "cpu_ms_per_event": round(cpu * 1000 / count, 3),
        "follows_after": follows,
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--batches", default="1,100")
    args = parser.parse_args()
    base = MessagingSettings(environment="test", run_consumer=False, run_outbox_relay=False)
    topic = unique_topic("bench.identity.graph")
    await create_topics(BOOTSTRAP, [topic], partitions=3)
    await publish_follows(topic, args.events)
    results = []
    async with fresh_database(base, MIGRATIONS_DIR) as settings:
        for batch in (int(b) for b in args.batches.split(",")):
            result = await run_one(settings, topic, args.events, batch)
            results.append(result)
            print(result, flush=True)
    first, last = results[0], results[-1]
    if first["events_per_s"] and last["events_per_s"]:
        ratio = last["events_per_s"] / first["events_per_s"]
        print(f"batch {last['batch_size']} vs {first['batch_size']}: {ratio:.1f}x events/s")
    print("saved", save_results("consumer", {"machine": machine_info(), "results": results}))


if __name__ == "__main__":
    asyncio.run(main())
