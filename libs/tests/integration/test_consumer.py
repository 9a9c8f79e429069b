import asyncio
import contextlib
import sys
import types
from collections.abc import AsyncIterator, Sequence
from typing import Any

import orjson
import pytest
from aiokafka import AIOKafkaProducer
from kit.consumer import EventConsumer, PermanentError, dlq_topic, replay_dlq
from kit.db import Database
from kit.events import CloudEvent
from kit.outbox import OutboxRelay, OutboxRow, record_event
from kit.settings import ServiceSettings
from kit.testing import consume, create_topics, unique_topic, wait_until
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

pytestmark = pytest.mark.integration

BOOTSTRAP = "127.0.0.1:9092"


async def things(db: Database) -> list[str]:
    async with db.session() as s:
        return list((await s.execute(text("SELECT name FROM things ORDER BY id"))).scalars())


async def insert_thing(session: AsyncSession, event: CloudEvent) -> None:
    await session.execute(text("INSERT INTO things (name) VALUES (:n)"), {"n": event.data["name"]})


@contextlib.asynccontextmanager
async def running(worker: Any) -> AsyncIterator[None]:
    task = asyncio.create_task(worker.run())
    try:
        yield
    finally:
        await worker.stop()
        await asyncio.wait_for(task, 30)


async def publish(
    topic: str, events: Sequence[CloudEvent], raw: Sequence[tuple[Any, ...]] = ()
) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=BOOTSTRAP, acks="all")
    await producer.start()
    try:
        for event in events:
            key, value, headers = event.to_kafka()
            await producer.send_and_wait(topic, value=value, key=key, headers=headers)
        for value, headers in raw:
            await producer.send_and_wait(topic, value=value, key=b"raw", headers=headers)
    finally:
        await producer.stop()


def event(name: str) -> CloudEvent:
    return CloudEvent.create(
        type="kittest.thing.created",
        source="test",
        subject="s",
        data={"name": name},
        dataschema="https://schemas.test/kittest.thing.created.json",
    )


async def test_duplicate_from_relay_crash_is_applied_once(
    settings: ServiceSettings, db: Database, topic: str
) -> None:
    async with db.session() as s:
        await record_event(
            s,
            topic=topic,
            type="kittest.thing.created",
            subject="t1",
            data={"name": "only-once"},
            validate=False,
        )

    async def killed(rows: Sequence[OutboxRow]) -> None:
        raise ConnectionResetError("relay died after send, before mark")

    crashing = OutboxRelay(settings, db, after_send=killed)
    with pytest.raises(ConnectionResetError):
        await crashing.publish_batch()
    await crashing._close()
    relay = OutboxRelay(settings, db)
    await relay.publish_batch()
    await relay._close()
    assert len(await consume(BOOTSTRAP, topic, count=2)) == 2  # the duplicate is on Kafka

    consumer = EventConsumer(settings, db, unique_topic("g"), [topic], insert_thing, validate=False)
    async with running(consumer):
        await wait_until(lambda: _done(consumer, 2), within_s=30)
    assert await things(db) == ["only-once"]
    assert (consumer.applied, consumer.duplicates) == (1, 1)


async def _done(consumer: EventConsumer, n: int) -> bool:
    seen = consumer.applied + consumer.duplicates + consumer.dead_lettered + consumer.skipped
    return seen >= n


async def test_offsets_are_committed_after_effects(
    settings: ServiceSettings, db: Database, topic: str
) -> None:
    group = unique_topic("g")
    await publish(topic, [event("a"), event("b")])
    first = EventConsumer(settings, db, group, [topic], insert_thing, validate=False)
    async with running(first):
        await wait_until(lambda: _done(first, 2), within_s=30)
    await publish(topic, [event("c")])
    second = EventConsumer(settings, db, group, [topic], insert_thing, validate=False)
    async with running(second):
        await wait_until(lambda: _done(second, 1), within_s=30)
        await asyncio.sleep(0.5)
    # The restarted member resumes after the committed offsets: nothing re-read.
    assert (second.applied, second.duplicates) == (1, 0)
    assert sorted(await things(db)) == ["a", "b", "c"]


async def test_events_applied_but_not_yet_committed_are_redelivered_and_skipped(
    settings: ServiceSettings, db: Database, topic: str
) -> None:
    group = unique_topic("g")
    rarely = settings.model_copy(update={"consumer_commit_interval_s": 3600.0})
    await publish(topic, [event("x1"), event("x2")])
    first = EventConsumer(rarely, db, group, [topic], insert_thing, validate=False)

    async def crash_before_commit(*_args: Any, **_kwargs: Any) -> None:
        return None  # the process dies before its periodic commit

    first._commit = crash_before_commit  # type: ignore[method-assign]
    async with running(first):
        await wait_until(lambda: _done(first, 2), within_s=30)
    await publish(topic, [event("x3")])
    second = EventConsumer(settings, db, group, [topic], insert_thing, validate=False)
    async with running(second):
        await wait_until(lambda: _done(second, 3), within_s=30)
    assert (second.applied, second.duplicates) == (1, 2)  # x1, x2 skipped by the inbox
    assert sorted(await things(db)) == ["x1", "x2", "x3"]


@pytest.mark.parametrize("batch_size", [1, 50])
async def test_events_declined_by_wants_skip_the_transaction_and_the_inbox(
    settings: ServiceSettings, db: Database, topic: str, batch_size: int
) -> None:
    async def wants(ev: CloudEvent) -> bool:
        if ev.data["name"] == "flaky-wants":
            raise RuntimeError("cannot tell")  # undecided: applied as usual
        return not ev.data["name"].startswith("skip")

    names = ["keep-1", "skip-1", "keep-2", "skip-2", "flaky-wants"]
    await publish(topic, [event(n) for n in names])
    group = unique_topic("g")
    consumer = EventConsumer(
        settings, db, group, [topic], insert_thing, validate=False, wants=wants,
        batch_size=batch_size,
    )  # fmt: skip
    async with running(consumer):
        await wait_until(lambda: _done(consumer, 5), within_s=30)
    assert await things(db) == ["keep-1", "keep-2", "flaky-wants"]
    assert (consumer.applied, consumer.skipped) == (3, 2)
    async with db.session() as s:
        inbox = await s.scalar(
            text("SELECT count(*) FROM inbox WHERE consumer_group = :g"), {"g": group}
        )
    assert inbox == 3  # skipped events leave no inbox row


async def test_failing_handler_goes_to_dlq_and_replay_applies_it(
    settings: ServiceSettings, db: Database, topic: str
) -> None:
    group = unique_topic("g")
    await create_topics(BOOTSTRAP, [dlq_topic(topic, group)])
    broken = {"on": True}
    calls: list[str] = []

    async def flaky(session: AsyncSession, ev: CloudEvent) -> None:
        calls.append(ev.data["name"])
        await insert_thing(session, ev)
        if broken["on"] and ev.data["name"] == "poison":
            raise ValueError("cannot handle poison yet")

    await publish(topic, [event("poison"), event("fine")])
    consumer = EventConsumer(
        settings,
        db,
        group,
        [topic],
        flaky,
        validate=False,
        max_attempts=3,
        backoff_initial=0.05,
        batch_size=1,  # counts exact handler runs; chunks are tested below
    )
    async with running(consumer):
        await wait_until(lambda: _done(consumer, 2), within_s=30)
        assert calls.count("poison") == 3  # retried, then dead-lettered
        assert consumer.dead_lettered == 1
        assert await things(db) == ["fine"]  # failed attempts left nothing behind

        [dead] = await consume(BOOTSTRAP, dlq_topic(topic, group), count=1)
        headers = dict(dead.headers)
        assert headers["dlq_original_topic"] == topic.encode()
        assert headers["dlq_error_type"] == b"ValueError"
        assert headers["dlq_attempts"] == b"3"
        assert headers["ce_type"] == b"kittest.thing.created"  # original headers kept
        assert orjson.loads(dead.value) == {"name": "poison"}

        broken["on"] = False
        assert await replay_dlq(settings, group_id=group, topic=topic) == 1
        await wait_until(lambda: _done(consumer, 3), within_s=30)
    assert sorted(await things(db)) == ["fine", "poison"]
    # Replaying again finds nothing new.
    assert await replay_dlq(settings, group_id=group, topic=topic, deadline_s=5) == 0


async def test_undecodable_and_invalid_events_are_dead_lettered_without_retry(
    settings: ServiceSettings,
    db: Database,
    topic: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    class ContractError(Exception):
        pass

    def validate(event_type: str, data: dict[str, Any]) -> None:
        if not isinstance(data.get("name"), str):
            raise ContractError("name must be a string")

    fake = types.ModuleType("contracts")
    fake.validate = validate  # type: ignore[attr-defined]
    fake.ContractError = ContractError  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "contracts", fake)

    group = unique_topic("g")
    calls: list[str] = []

    async def handler(session: AsyncSession, ev: CloudEvent) -> None:
        calls.append(str(ev.data.get("name")))
        if ev.data.get("name") == "permanent":
            raise PermanentError("will never work")
        await insert_thing(session, ev)

    bad_schema = CloudEvent.create(
        type="kittest.thing.created", source="t", subject="s", data={"name": 7}, dataschema="x"
    )
    await publish(
        topic,
        [bad_schema, event("permanent"), event("good")],
        raw=[(b"not json", [("ce_id", b"nope")])],
    )
    consumer = EventConsumer(settings, db, group, [topic], handler, max_attempts=5)
    async with running(consumer):
        await wait_until(lambda: _done(consumer, 4), within_s=30)
    assert consumer.dead_lettered == 3
    assert sorted(calls) == ["good", "permanent"]  # no retries for any of them
    dead = await consume(BOOTSTRAP, dlq_topic(topic, group), count=3)
    assert sorted(dict(d.headers)["dlq_error_type"] for d in dead) == [
        b"ContractError",
        b"EventDecodeError",
        b"PermanentError",
    ]


async def test_a_backlog_is_applied_in_chunks_in_order_and_exactly_once(
    settings: ServiceSettings, db: Database, topic: str
) -> None:
    names = [f"n{i:03d}" for i in range(120)]
    first = event("n000")
    # The relay-crash duplicate arrives right behind the original, inside one chunk.
    await publish(topic, [first, first, *(event(n) for n in names[1:])])
    sessions: list[int] = []

    async def handler(session: AsyncSession, ev: CloudEvent) -> None:
        sessions.append(id(session))
        await insert_thing(session, ev)

    consumer = EventConsumer(
        settings, db, unique_topic("g"), [topic], handler, validate=False, batch_size=50
    )
    async with running(consumer):
        await wait_until(lambda: _done(consumer, 121), within_s=30)
    assert await things(db) == names
    assert (consumer.applied, consumer.duplicates, consumer.dead_lettered) == (120, 1, 0)
    # Far fewer transactions than events (how the fetches split the backlog may vary).
    assert len(set(sessions)) <= 10


async def test_a_failing_event_in_a_chunk_does_not_take_its_neighbours_with_it(
    settings: ServiceSettings, db: Database, topic: str
) -> None:
    group = unique_topic("g")
    await create_topics(BOOTSTRAP, [dlq_topic(topic, group)])
    calls: list[str] = []

    async def handler(session: AsyncSession, ev: CloudEvent) -> None:
        calls.append(ev.data["name"])
        await insert_thing(session, ev)
        if ev.data["name"] == "poison":
            raise PermanentError("never")

    await publish(topic, [event("a"), event("b"), event("poison"), event("c")])
    consumer = EventConsumer(settings, db, group, [topic], handler, validate=False, batch_size=10)
    async with running(consumer):
        await wait_until(lambda: _done(consumer, 4), within_s=30)
    assert await things(db) == ["a", "b", "c"]  # the rolled-back chunk left nothing twice
    assert (consumer.applied, consumer.dead_lettered) == (3, 1)
    # Once inside the failed chunk, once on its own (PermanentError: no retries).
    assert calls.count("poison") == 2


async def test_one_trace_spans_record_relay_and_consumer(
    settings: ServiceSettings, db: Database, topic: str
) -> None:
    from kit.tracing import setup_tracing
    from opentelemetry import trace

    setup_tracing("kittest")
    with trace.get_tracer("test").start_as_current_span("POST /things") as span:
        async with db.session() as s:
            await record_event(
                s,
                topic=topic,
                type="kittest.thing.created",
                subject="t",
                data={"name": "traced"},
                validate=False,
            )
        origin = span.get_span_context().trace_id
    relay = OutboxRelay(settings, db)
    await relay.publish_batch()
    await relay._close()

    seen: list[int] = []

    async def handler(session: AsyncSession, ev: CloudEvent) -> None:
        seen.append(trace.get_current_span().get_span_context().trace_id)

    consumer = EventConsumer(settings, db, unique_topic("g"), [topic], handler, validate=False)
    async with running(consumer):
        await wait_until(lambda: _done(consumer, 1), within_s=30)
    assert seen == [origin]
