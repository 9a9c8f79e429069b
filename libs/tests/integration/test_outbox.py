import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence

import orjson
import pytest
from kit.db import Database
from kit.outbox import OutboxRelay, OutboxRow, record_event
from kit.settings import ServiceSettings
from kit.testing import consume, wait_until
from kit.tracing import setup_tracing
from opentelemetry import trace
from sqlalchemy import text

pytestmark = pytest.mark.integration

BOOTSTRAP = "127.0.0.1:9092"


async def record(db: Database, topic: str, subject: str, name: str) -> None:
    async with db.session() as s:
        await record_event(
            s,
            topic=topic,
            type="kittest.thing.created",
            subject=subject,
            data={"name": name},
            dataschema="https://schemas.test/kittest.thing.created.json",
            validate=False,
        )


async def statuses(db: Database) -> list[str]:
    async with db.session() as s:
        return list((await s.execute(text("SELECT status FROM outbox ORDER BY seq"))).scalars())


@contextlib.asynccontextmanager
async def running(relay: OutboxRelay) -> AsyncIterator[asyncio.Task[None]]:
    task = asyncio.create_task(relay.run())
    try:
        yield task
    finally:
        await relay.stop()
        await asyncio.wait_for(task, 20)


async def test_committed_row_reaches_kafka_with_cloudevents_headers(
    settings: ServiceSettings, db: Database, topic: str
) -> None:
    setup_tracing("kittest")
    tracer = trace.get_tracer("test")
    with tracer.start_as_current_span("http request") as span:
        await record(db, topic, "thing-1", "قمر")
        trace_id = format(span.get_span_context().trace_id, "032x")
    relay = OutboxRelay(settings, db)
    assert (await relay.publish_batch())[0] == 1
    await relay._close()

    [message] = await consume(BOOTSTRAP, topic, count=1)
    headers = dict(message.headers)
    async with db.session() as s:
        row = (await s.execute(text("SELECT id, status, published_at FROM outbox"))).one()
    assert message.key == b"thing-1"
    assert orjson.loads(message.value) == {"name": "قمر"}
    assert headers["ce_id"] == str(row.id).encode()
    assert headers["ce_type"] == b"kittest.thing.created"
    assert headers["ce_source"] == b"kittest"
    assert headers["ce_subject"] == b"thing-1"
    assert headers["ce_specversion"] == b"1.0"
    assert headers["ce_dataschema"] == b"https://schemas.test/kittest.thing.created.json"
    assert headers["content-type"] == b"application/json"
    assert headers["ce_time"].endswith(b"Z")
    # The relay's publish span continues the trace recorded with the row.
    assert headers["traceparent"].decode().split("-")[1] == trace_id
    assert row.status == "published"
    assert row.published_at is not None


async def test_rolled_back_transaction_publishes_nothing(
    db: Database, settings: ServiceSettings, topic: str
) -> None:
    with pytest.raises(RuntimeError):
        async with db.session() as s:
            await record_event(
                s, topic=topic, type="kittest.thing.created", subject="x", data={}, validate=False
            )
            raise RuntimeError("handler failed")
    assert await statuses(db) == []


async def test_relay_wakes_on_notify_without_polling(
    settings: ServiceSettings, db: Database, topic: str
) -> None:
    # Fallback timer of 30 s: only the NOTIFY can make this fast.
    relay = OutboxRelay(settings, db, poll_interval=30)
    async with running(relay):
        await asyncio.sleep(1.0)  # the relay is idle, LISTENing
        await record(db, topic, "k", "woken")
        await wait_until(lambda: _all_published(db, 1), within_s=5)
    messages = await consume(BOOTSTRAP, topic, count=1)
    assert [orjson.loads(m.value)["name"] for m in messages] == ["woken"]


async def _all_published(db: Database, n: int) -> bool:
    return await statuses(db) == ["published"] * n


async def test_events_of_a_key_are_published_in_order(
    settings: ServiceSettings, db: Database, topic: str
) -> None:
    for i in range(30):
        await record(db, topic, f"key-{i % 3}", f"{i}")
    relay = OutboxRelay(settings, db, batch_size=7)
    async with running(relay):
        await wait_until(lambda: _all_published(db, 30), within_s=20)
    messages = await consume(BOOTSTRAP, topic, count=30)
    by_key: dict[bytes, list[int]] = {}
    for m in messages:
        by_key.setdefault(m.key, []).append(int(orjson.loads(m.value)["name"]))
    assert len(messages) == 30
    for numbers in by_key.values():
        assert numbers == sorted(numbers)


async def test_two_relays_never_send_the_same_row(
    settings: ServiceSettings, db: Database, topic: str
) -> None:
    for i in range(40):
        await record(db, topic, f"k{i}", f"{i}")
    first = OutboxRelay(settings, db, batch_size=5)
    second = OutboxRelay(settings, db, batch_size=5)
    async with running(first), running(second):
        await wait_until(lambda: _all_published(db, 40), within_s=20)
    # Ask for more than were recorded: a duplicate would show up within the window.
    messages = await consume(BOOTSTRAP, topic, count=41, within_s=4)
    names = [orjson.loads(m.value)["name"] for m in messages]
    assert sorted(names, key=int) == [str(i) for i in range(40)]


async def test_kafka_down_keeps_rows_pending_then_relay_catches_up(
    settings: ServiceSettings, db: Database, topic: str
) -> None:
    down = settings.model_copy(update={"kafka_bootstrap_servers": "127.0.0.1:1"})
    relay = OutboxRelay(down, db, backoff_initial=0.1, backoff_max=0.5)
    async with running(relay):
        await record(db, topic, "k", "while-down")  # the write itself never needs Kafka
        await asyncio.sleep(2)
        assert await statuses(db) == ["pending"]
    await record(db, topic, "k", "after")
    async with running(OutboxRelay(settings, db)):
        await wait_until(lambda: _all_published(db, 2), within_s=20)
    messages = await consume(BOOTSTRAP, topic, count=2)
    assert [orjson.loads(m.value)["name"] for m in messages] == ["while-down", "after"]


async def test_crash_between_send_and_mark_resends(
    settings: ServiceSettings, db: Database, topic: str
) -> None:
    await record(db, topic, "k", "once")

    async def crash(rows: Sequence[OutboxRow]) -> None:
        raise ConnectionResetError("relay killed before marking")

    crashing = OutboxRelay(settings, db, after_send=crash)
    with pytest.raises(ConnectionResetError):
        await crashing.publish_batch()
    await crashing._close()
    assert await statuses(db) == ["pending"]
    relay = OutboxRelay(settings, db)
    await relay.publish_batch()
    await relay._close()
    assert await statuses(db) == ["published"]
    messages = await consume(BOOTSTRAP, topic, count=2)
    assert len(messages) == 2
    first, again = (dict(m.headers) for m in messages)
    assert first["ce_id"] == again["ce_id"]
