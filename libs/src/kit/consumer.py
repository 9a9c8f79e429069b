"""Kafka consumer with inbox dedupe, retries, a dead-letter topic and replay.

``EventConsumer`` applies each event in one database transaction together with an
``inbox`` row ``(consumer_group, event_id)``; a redelivered event finds its row and
changes nothing. Offsets are committed (``enable_auto_commit=False``) only after the
effect committed. A failing handler is retried with exponential backoff; when the
attempts are used up — or at once for undecodable, contract-violating or
:class:`PermanentError` events — the original message goes to
``<topic>.dlq.<group>`` with its headers plus ``dlq_*`` error headers, and consumption
moves on. Database outages are not the event's fault: they are retried without limit.
:func:`replay_dlq` puts dead letters back on their original topic.

Consecutive records of one partition are applied in chunks of up to ``batch_size`` in
one transaction (one multi-row inbox insert, the handler once per new event, one
commit), which is what makes catching up on a backlog fast. If anything in a chunk
fails, the chunk rolls back as a whole and its records are applied again one at a time
with the retry and dead-letter rules above, so one bad event never takes its
neighbours with it. Handlers therefore see every event in order either way; like any
handler under at-least-once delivery, they may run more than once for an event whose
transaction did not commit.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from aiokafka import (
    AIOKafkaConsumer,
    AIOKafkaProducer,
    ConsumerRebalanceListener,
    ConsumerRecord,
    TopicPartition,
)
from opentelemetry.trace import SpanKind, Status, StatusCode
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncSession

from kit.db import Database
from kit.events import CloudEvent, EventDecodeError, contract_error_types, validate_data
from kit.housekeeping import Every, prune_inbox
from kit.metrics import CONSUMER_EVENTS, CONSUMER_LAG
from kit.outbox import INBOX
from kit.settings import ServiceSettings
from kit.tracing import extract_context, get_tracer, setup_tracing

log = logging.getLogger("kit.consumer")

Handler = Callable[[AsyncSession, CloudEvent], Awaitable[None]]
#: Says, before any transaction, whether an event can have an effect at all.
Wants = Callable[[CloudEvent], Awaitable[bool]]

DLQ_PREFIX = "dlq_"


class PermanentError(Exception):
    """Raised by a handler for an event that retrying cannot fix: dead-letter it now."""


def dlq_topic(topic: str, group_id: str) -> str:
    return f"{topic}.dlq.{group_id}"


def _is_transient_infrastructure(exc: BaseException) -> bool:
    if isinstance(exc, OperationalError | InterfaceError):
        return True
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    return isinstance(exc, ConnectionError | OSError | TimeoutError)


class EventConsumer:
    """Consumes ``topics`` as ``group_id`` and applies events with ``handler(session, event)``.

    ``handler`` must not commit; it may call ``record_event`` to emit follow-up events in
    the same transaction. ``max_attempts`` counts one-at-a-time handler runs before
    dead-lettering (a chunk that failed comes before them). ``batch_size`` (default
    ``settings.consumer_batch_size``) caps the events applied in one transaction.

    ``wants(event)``, when given, is asked first: an event it declines is ``skipped``
    without a transaction or an inbox row (declining must mean "this event can have no
    effect now", e.g. a notification for recipients who are all online; a redelivery is
    simply asked again). If ``wants`` raises, the event is applied as usual.
    Unknown event types are the handler's to ignore (return without effect); their
    inbox row is still written.
    """

    def __init__(
        self,
        settings: ServiceSettings,
        db: Database,
        group_id: str,
        topics: Sequence[str],
        handler: Handler,
        *,
        max_attempts: int = 4,
        backoff_initial: float = 0.2,
        backoff_max: float = 10.0,
        validate: bool = True,
        auto_offset_reset: str = "earliest",
        consumer_kwargs: dict[str, Any] | None = None,
        start_timeout_s: float = 30.0,
        batch_size: int | None = None,
        wants: Wants | None = None,
    ) -> None:
        if not topics:
            raise ValueError("EventConsumer needs at least one topic")
        self.settings = settings
        self.db = db
        self.group_id = group_id
        self.topics = list(topics)
        self.handler = handler
        self.max_attempts = max(1, max_attempts)
        self.backoff_initial = backoff_initial
        self.backoff_max = backoff_max
        self.validate = validate
        self.auto_offset_reset = auto_offset_reset
        self.consumer_kwargs = consumer_kwargs or {}
        self.start_timeout_s = start_timeout_s
        self.batch_size = max(1, batch_size or settings.consumer_batch_size)
        self.wants = wants
        self.skipped = 0
        self._housekeeping = Every(settings.housekeeping_interval_s)
        self.commit_interval_s = settings.consumer_commit_interval_s
        self._uncommitted: dict[TopicPartition, int] = {}
        self._committed_at = time.monotonic()
        self._stopping = asyncio.Event()
        self._consumer: AIOKafkaConsumer | None = None
        self._producer: AIOKafkaProducer | None = None
        self._tracer = get_tracer("kit.consumer")
        self.applied = 0
        self.duplicates = 0
        self.dead_lettered = 0
        setup_tracing(settings.service_name, settings.otlp_endpoint)

    async def run(self) -> None:
        """Consume until :meth:`stop`; reconnects to Kafka with backoff after failures."""
        backoff = self.backoff_initial
        while not self._stopping.is_set():
            try:
                await self._run_once()
                backoff = self.backoff_initial
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning(
                    "consumer %s failed, restarting in %.1fs: %r", self.group_id, backoff, exc
                )
                await self._sleep(backoff)
                backoff = min(backoff * 2, self.backoff_max)
            finally:
                await self._close()

    async def stop(self) -> None:
        self._stopping.set()

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), seconds)

    async def _close(self) -> None:
        consumer, self._consumer = self._consumer, None
        producer, self._producer = self._producer, None
        for client in (consumer, producer):
            if client is not None:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(client.stop(), 10)

    async def _run_once(self) -> None:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.settings.kafka_bootstrap_servers,
            group_id=self.group_id,
            client_id=f"{self.settings.service_name}-{self.group_id}",
            enable_auto_commit=False,
            auto_offset_reset=self.auto_offset_reset,
            isolation_level="read_committed",
            **self.consumer_kwargs,
        )
        self._consumer = consumer
        # A broker that accepts connections but is not serving yet can stall start();
        # time out and go through run()'s backoff instead of waiting forever.
        await asyncio.wait_for(consumer.start(), self.start_timeout_s)
        consumer.subscribe(self.topics, listener=_CommitOnRevoke(self, consumer))
        try:
            while not self._stopping.is_set():
                batches = await consumer.getmany(timeout_ms=500, max_records=500)
                if batches:
                    # Partitions are independent streams: apply them concurrently, each
                    # in order.
                    results = await asyncio.gather(
                        *(self._process_partition(tp, rs) for tp, rs in batches.items()),
                        return_exceptions=True,
                    )
                    for result in results:
                        if isinstance(result, BaseException):
                            raise result
                if time.monotonic() - self._committed_at >= self.commit_interval_s:
                    await self._commit(consumer)
                await self._report_lag(consumer)
                if self._housekeeping.due():
                    await self.housekeep()
        finally:
            # Whatever was applied, also when leaving on an error: less to redeliver.
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._commit(consumer), 10)

    async def _commit(
        self, consumer: AIOKafkaConsumer, only: Iterable[TopicPartition] | None = None
    ) -> None:
        """Commit the offsets past every applied event (of ``only``'s partitions)."""
        wanted = set(only) if only is not None else None
        offsets = {
            tp: offset for tp, offset in self._uncommitted.items() if wanted is None or tp in wanted
        }
        self._committed_at = time.monotonic()
        if not offsets:
            return
        await consumer.commit(offsets)
        for tp, offset in offsets.items():
            if self._uncommitted.get(tp) == offset:
                del self._uncommitted[tp]

    async def housekeep(self) -> int:
        """Delete this group's inbox rows older than ``inbox_retention_s`` (see
        :mod:`kit.housekeeping`); failures are logged and left for the next round."""
        try:
            deleted = await prune_inbox(
                self.db,
                self.group_id,
                retention=timedelta(seconds=self.settings.inbox_retention_s),
                batch=self.settings.housekeeping_batch_size,
            )
        except Exception as exc:
            log.warning("consumer %s: inbox housekeeping failed: %r", self.group_id, exc)
            return 0
        if deleted:
            log.info("consumer %s: inbox housekeeping deleted %d rows", self.group_id, deleted)
        return deleted

    async def _process_partition(self, tp: TopicPartition, records: list[Any]) -> None:
        """Apply one partition's records in order, then note the offset past them.

        Offsets move only past effects that are committed, and are committed to Kafka
        at most every ``commit_interval_s`` (and when partitions are revoked or the
        consumer stops): a crash before that redelivers events whose inbox rows
        already exist, so they change nothing.
        """
        next_offset: int | None = None
        try:
            for start in range(0, len(records), self.batch_size):
                if self._stopping.is_set():
                    break
                chunk = records[start : start + self.batch_size]
                if len(chunk) == 1 or not await self._apply_chunk(chunk):
                    for record in chunk:
                        if self._stopping.is_set():
                            break
                        await self.process(record)
                        next_offset = record.offset + 1
                    continue
                next_offset = chunk[-1].offset + 1
        finally:
            if next_offset is not None:
                self._uncommitted[tp] = next_offset

    async def _apply_chunk(self, records: list[ConsumerRecord[Any, Any]]) -> bool:
        """Apply ``records`` in one transaction; False (nothing applied) if any fails.

        A record that does not decode or validate also makes it False: the one-by-one
        path dead-letters it.
        """
        events: list[CloudEvent] = []
        unusable: tuple[type[BaseException], ...] = (EventDecodeError, *contract_error_types())
        try:
            for record in records:
                event = CloudEvent.from_kafka(record)
                if self.validate:
                    validate_data(event.type, event.data)
                events.append(event)
        except unusable:
            return False
        wanted = [await self._wanted(e) for e in events]
        outcomes: list[str] = ["skipped" if not w else "" for w in wanted]
        if not any(wanted):
            self._count(records, outcomes)
            return True
        try:
            async with self.db.session() as session:
                fresh = set(
                    await session.scalars(
                        pg_insert(INBOX)
                        .values(
                            [
                                {
                                    "consumer_group": self.group_id,
                                    "event_id": e.id,
                                    "event_type": e.type,
                                }
                                for e, w in zip(events, wanted, strict=True)
                                if w
                            ]
                        )
                        .on_conflict_do_nothing()
                        .returning(INBOX.c.event_id)
                    )
                )
                for i, (record, event) in enumerate(zip(records, events, strict=True)):
                    if not wanted[i]:
                        continue
                    if event.id not in fresh:
                        outcomes[i] = "duplicate"
                        continue
                    fresh.discard(event.id)  # the same id twice in one chunk: apply once
                    with self._span(record) as span:
                        span.set_attribute("messaging.message.id", str(event.id))
                        await self.handler(session, event)
                    outcomes[i] = "applied"
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.info(
                "consumer %s: chunk of %d failed (%r); applying one by one",
                self.group_id,
                len(records),
                exc,
            )
            return False
        self._count(records, outcomes)
        return True

    def _count(self, records: list[ConsumerRecord[Any, Any]], outcomes: list[str]) -> None:
        for record, outcome in zip(records, outcomes, strict=True):
            CONSUMER_EVENTS.labels(self.group_id, record.topic, outcome).inc()
        self.applied += outcomes.count("applied")
        self.duplicates += outcomes.count("duplicate")
        self.skipped += outcomes.count("skipped")

    async def _wanted(self, event: CloudEvent) -> bool:
        if self.wants is None:
            return True
        try:
            return await self.wants(event)
        except Exception as exc:
            log.info("consumer %s: wants(%s) failed (%r); applying", self.group_id, event.id, exc)
            return True

    def _span(self, record: ConsumerRecord[Any, Any]) -> Any:
        """The consumer span of ``record``, continuing the trace in its headers."""
        return self._tracer.start_as_current_span(
            f"{record.topic} process",
            context=extract_context(list(record.headers or ())),
            kind=SpanKind.CONSUMER,
            attributes={
                "messaging.system": "kafka",
                "messaging.destination.name": record.topic,
                "messaging.consumer.group.name": self.group_id,
                "messaging.kafka.offset": record.offset,
            },
        )

    async def _report_lag(self, consumer: AIOKafkaConsumer) -> None:
        for tp in consumer.assignment():
            highwater = consumer.highwater(tp)
            if highwater is None:
                continue
            with contextlib.suppress(Exception):
                position = await consumer.position(tp)
                CONSUMER_LAG.labels(self.group_id, tp.topic, str(tp.partition)).set(
                    max(0, highwater - position)
                )

    async def process(self, record: ConsumerRecord[Any, Any]) -> str:
        """Apply one record: ``applied``, ``duplicate``, ``skipped`` or ``dead_lettered``.

        Raises only when the outcome cannot be made durable (database down past
        :meth:`stop`, or the dead-letter publish failing), so the offset is not committed.
        """
        with self._span(record) as span:
            try:
                event = CloudEvent.from_kafka(record)
            except EventDecodeError as exc:
                return await self._dead_letter(record, exc, attempts=0)
            span.set_attribute("messaging.message.id", str(event.id))
            if self.validate:
                try:
                    validate_data(event.type, event.data)
                except contract_error_types() as exc:
                    return await self._dead_letter(record, exc, attempts=0)
            if not await self._wanted(event):
                self._count([record], ["skipped"])
                return "skipped"
            attempt = 0
            delay = self.backoff_initial
            while True:
                attempt += 1
                try:
                    outcome = await self._apply(event)
                except PermanentError as exc:
                    span.set_status(Status(StatusCode.ERROR))
                    return await self._dead_letter(record, exc, attempts=attempt)
                except Exception as exc:
                    if _is_transient_infrastructure(exc):
                        if self._stopping.is_set():
                            raise
                        log.warning("consumer %s: database unavailable: %r", self.group_id, exc)
                        attempt -= 1
                    elif attempt >= self.max_attempts:
                        span.record_exception(exc)
                        span.set_status(Status(StatusCode.ERROR))
                        log.error(
                            "consumer %s: event %s failed %d times, dead-lettering",
                            self.group_id,
                            event.id,
                            attempt,
                            exc_info=exc,
                        )
                        return await self._dead_letter(record, exc, attempts=attempt)
                    else:
                        log.warning(
                            "consumer %s: event %s attempt %d failed: %r",
                            self.group_id,
                            event.id,
                            attempt,
                            exc,
                        )
                    await asyncio.sleep(delay * (0.8 + 0.4 * random.random()))
                    delay = min(delay * 2, self.backoff_max)
                    continue
                CONSUMER_EVENTS.labels(self.group_id, record.topic, outcome).inc()
                return outcome

    async def _apply(self, event: CloudEvent) -> str:
        async with self.db.session() as session:
            inserted = await session.scalar(
                pg_insert(INBOX)
                .values(consumer_group=self.group_id, event_id=event.id, event_type=event.type)
                .on_conflict_do_nothing()
                .returning(INBOX.c.event_id)
            )
            if inserted is None:
                self.duplicates += 1
                return "duplicate"
            await self.handler(session, event)
        self.applied += 1
        return "applied"

    async def _get_producer(self) -> AIOKafkaProducer:
        if self._producer is None:
            producer = AIOKafkaProducer(
                bootstrap_servers=self.settings.kafka_bootstrap_servers,
                client_id=f"{self.settings.service_name}-{self.group_id}-dlq",
                enable_idempotence=True,
                acks="all",
            )
            await producer.start()
            self._producer = producer
        return self._producer

    async def _dead_letter(
        self, record: ConsumerRecord[Any, Any], exc: BaseException, *, attempts: int
    ) -> str:
        producer = await self._get_producer()
        await producer.send_and_wait(
            dlq_topic(record.topic, self.group_id),
            value=record.value,
            key=record.key,
            headers=dead_letter_headers(record, self.group_id, exc, attempts),
        )
        self.dead_lettered += 1
        CONSUMER_EVENTS.labels(self.group_id, record.topic, "dead_lettered").inc()
        return "dead_lettered"


class _CommitOnRevoke(ConsumerRebalanceListener):
    """Commits the applied offsets of partitions this member is about to lose, so the
    next owner starts after them (it would only find inbox duplicates otherwise)."""

    def __init__(self, owner: EventConsumer, consumer: AIOKafkaConsumer) -> None:
        self.owner = owner
        self.consumer = consumer

    async def on_partitions_revoked(self, revoked: Iterable[TopicPartition]) -> None:
        try:
            await self.owner._commit(self.consumer, only=revoked)
        except Exception as exc:
            log.info("consumer %s: commit on revoke failed: %r", self.owner.group_id, exc)

    async def on_partitions_assigned(self, assigned: Iterable[TopicPartition]) -> None:
        for tp in assigned:
            self.owner._uncommitted.pop(tp, None)


def dead_letter_headers(
    record: ConsumerRecord[Any, Any], group_id: str, exc: BaseException, attempts: int
) -> list[tuple[str, bytes]]:
    """The record's own headers plus ``dlq_*`` headers saying where it came from and why."""
    original = [(k, v) for k, v in (record.headers or ()) if not k.startswith(DLQ_PREFIX)]
    return [
        *original,
        ("dlq_original_topic", record.topic.encode()),
        ("dlq_original_partition", str(record.partition).encode()),
        ("dlq_original_offset", str(record.offset).encode()),
        ("dlq_consumer_group", group_id.encode()),
        ("dlq_error_type", type(exc).__name__.encode()),
        ("dlq_error_message", str(exc)[:1000].encode("utf-8", "replace")),
        ("dlq_attempts", str(attempts).encode()),
        ("dlq_failed_at", datetime.now(UTC).isoformat().encode()),
    ]


async def replay_dlq(
    settings: ServiceSettings,
    *,
    group_id: str,
    topic: str,
    max_messages: int | None = None,
    deadline_s: float = 30.0,
) -> int:
    """Republish the dead letters of ``group_id`` for ``topic`` to their original topic.

    Reads ``<topic>.dlq.<group>`` as group ``<group>.dlq-replay`` up to the end offsets
    present when it starts, sends each message back with its original headers (``dlq_*``
    removed) and commits each offset after the send. Returns how many were replayed.
    Events keep their ``ce_id``, so a consumer that did apply one meanwhile skips it.
    """
    source = dlq_topic(topic, group_id)
    consumer = AIOKafkaConsumer(
        source,
        bootstrap_servers=settings.kafka_bootstrap_servers,
        group_id=f"{group_id}.dlq-replay",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    producer = AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap_servers, enable_idempotence=True, acks="all"
    )
    replayed = 0
    await consumer.start()
    try:
        await producer.start()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + deadline_s
        ends: dict[TopicPartition, int] | None = None
        while loop.time() < deadline:
            batches = await consumer.getmany(timeout_ms=300, max_records=200)
            assignment = consumer.assignment()
            if not assignment:
                continue
            if ends is None:
                ends = await consumer.end_offsets(list(assignment))
            for tp, records in batches.items():
                for record in records:
                    if ends is not None and record.offset >= ends.get(tp, 0):
                        continue
                    headers = [
                        (k, v) for k, v in (record.headers or ()) if not k.startswith(DLQ_PREFIX)
                    ]
                    target = _header(record.headers, "dlq_original_topic") or topic
                    await producer.send_and_wait(
                        target, value=record.value, key=record.key, headers=headers
                    )
                    await consumer.commit({tp: record.offset + 1})
                    replayed += 1
                    if max_messages is not None and replayed >= max_messages:
                        return replayed
            positions = {tp: await consumer.position(tp) for tp in assignment}
            if all(positions[tp] >= ends.get(tp, 0) for tp in assignment):
                return replayed
        return replayed
    finally:
        await producer.stop()
        await consumer.stop()


def _header(headers: Iterable[tuple[str, bytes]] | None, name: str) -> str | None:
    for key, value in headers or ():
        if key == name and value is not None:
            return value.decode()
    return None


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m kit.consumer replay-dlq --group G --topic T [--bootstrap H:P]``."""
    parser = argparse.ArgumentParser(prog="python -m kit.consumer")
    sub = parser.add_subparsers(dest="command", required=True)
    replay = sub.add_parser("replay-dlq", help="republish dead letters to the original topic")
    replay.add_argument("--group", required=True)
    replay.add_argument("--topic", required=True)
    replay.add_argument("--bootstrap", default=None)
    replay.add_argument("--max", type=int, default=None)
    args = parser.parse_args(argv)
    settings = ServiceSettings()
    if args.bootstrap:
        settings = settings.model_copy(update={"kafka_bootstrap_servers": args.bootstrap})
    count = asyncio.run(
        replay_dlq(settings, group_id=args.group, topic=args.topic, max_messages=args.max)
    )
    print(f"replayed {count} dead letters from {dlq_topic(args.topic, args.group)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
