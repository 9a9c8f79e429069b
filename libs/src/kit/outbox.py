"""Transactional outbox and its relay to Kafka.

A service records an event with :func:`record_event` in the same transaction as the state
change; the row and a ``pg_notify`` become visible together at commit, or not at all.
:class:`OutboxRelay` publishes pending rows in ``seq`` order with an idempotent producer
(``acks=all``) and marks them ``published``. It wakes on the NOTIFY (a dedicated asyncpg
connection LISTENs), falls back to a timer, locks rows with ``FOR UPDATE SKIP LOCKED`` so
several relays never send the same row concurrently, and while Kafka is down keeps rows
pending and retries with exponential backoff. Delivery is at least once: a crash between
send and mark resends the row, which consumers absorb through their inbox.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import asyncpg
import orjson
from aiokafka import AIOKafkaProducer
from aiokafka.errors import (
    InvalidTopicError,
    MessageSizeTooLargeError,
    RecordTooLargeError,
    TopicAuthorizationFailedError,
    UnsupportedCodecError,
)
from opentelemetry.trace import SpanKind
from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    DateTime,
    Identity,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    func,
    insert,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.ext.asyncio import AsyncSession

from kit.db import Database
from kit.events import CloudEvent, ContractUnavailable, dataschema_uri, topic_for, validate_data
from kit.housekeeping import Every, prune_idempotency_keys, prune_outbox
from kit.ids import uuid7
from kit.metrics import OUTBOX_BACKLOG, OUTBOX_PUBLISH_ERRORS, OUTBOX_PUBLISHED
from kit.settings import ServiceSettings
from kit.tracing import context_from_traceparent, get_tracer, inject_traceparent, setup_tracing

log = logging.getLogger("kit.outbox")

PENDING, PUBLISHED, FAILED = "pending", "published", "failed"

# Errors that no retry will fix; such a row is marked failed instead of blocking forever.
PERMANENT_ERRORS: tuple[type[BaseException], ...] = (
    MessageSizeTooLargeError,
    RecordTooLargeError,
    InvalidTopicError,
    TopicAuthorizationFailedError,
    UnsupportedCodecError,
)


def outbox_table(metadata: MetaData) -> Table:
    """Define the ``outbox`` table in ``metadata`` (its schema is the metadata's)."""
    return Table(
        "outbox",
        metadata,
        Column("id", UUID(as_uuid=True), primary_key=True),
        Column("seq", BigInteger, Identity(always=True), nullable=False, unique=True),
        Column("topic", String(249), nullable=False),
        Column("key", Text, nullable=True),
        Column("type", String(200), nullable=False),
        Column("source", String(200), nullable=False),
        Column("subject", Text, nullable=True),
        Column("dataschema", Text, nullable=True),
        Column("data", JSONB, nullable=False),
        Column("traceparent", String(128), nullable=True),
        Column("status", String(16), nullable=False, server_default=PENDING),
        Column("attempts", Integer, nullable=False, server_default="0"),
        Column("last_error", Text, nullable=True),
        Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        Column("published_at", DateTime(timezone=True), nullable=True),
        CheckConstraint("status IN ('pending', 'published', 'failed')", name="outbox_status_valid"),
        Index("ix_outbox_pending_seq", "seq", postgresql_where=text("status = 'pending'")),
    )


def inbox_table(metadata: MetaData) -> Table:
    """Define the consumer ``inbox`` table (dedupe of applied events) in ``metadata``."""
    return Table(
        "inbox",
        metadata,
        Column("consumer_group", String(200), primary_key=True),
        Column("event_id", UUID(as_uuid=True), primary_key=True),
        Column("event_type", String(200), nullable=True),
        Column("applied_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    )


def create_outbox_tables(op: Any, schema: str) -> None:
    """Create ``outbox`` and ``inbox`` in ``schema`` from an Alembic migration (``op``)."""
    metadata = MetaData(schema=schema)
    outbox_table(metadata)
    inbox_table(metadata)
    metadata.create_all(op.get_bind())


def drop_outbox_tables(op: Any, schema: str) -> None:
    """Drop the tables made by :func:`create_outbox_tables` (a migration's downgrade)."""
    metadata = MetaData(schema=schema)
    outbox_table(metadata)
    inbox_table(metadata)
    metadata.drop_all(op.get_bind())


# Unqualified: statements resolve through the session's search_path (the service schema).
_meta = MetaData()
OUTBOX = outbox_table(_meta)
INBOX = inbox_table(_meta)


def notify_channel(schema: str) -> str:
    return f"kit_outbox_{schema}"


_warned_no_contracts: set[str] = set()


async def record_event(
    session: AsyncSession,
    *,
    type: str,
    subject: str | None,
    data: Mapping[str, Any],
    topic: str | None = None,
    key: str | None = None,
    source: str | None = None,
    dataschema: str | None = None,
    validate: bool = True,
) -> CloudEvent:
    """Write an event to the outbox inside the caller's transaction; returns the event.

    ``topic`` defaults to ``contracts.topic_for(type)``, ``key`` to ``subject``, ``source``
    to the service name of the :class:`~kit.db.Database` that made the session, and
    ``dataschema`` to the contract's URI. The current trace's ``traceparent`` is stored
    so the consumer continues the same trace. ``data`` is validated against the contract
    (``contracts.ContractError`` if invalid). The relay is notified at commit. Nothing is
    committed here.
    """
    payload = orjson.loads(orjson.dumps(dict(data)))
    if validate:
        try:
            validate_data(type, payload)
        except ContractUnavailable:
            if type not in _warned_no_contracts:
                _warned_no_contracts.add(type)
                log.warning("contracts.validate unavailable; %s recorded unvalidated", type)
    if topic is None:
        topic = topic_for(type)
    info = session.info
    schema = info.get("schema")
    event = CloudEvent(
        id=uuid7(),
        source=source or info.get("service") or "unknown",
        type=type,
        subject=subject,
        data=payload,
        dataschema=dataschema if dataschema is not None else dataschema_uri(type),
        traceparent=inject_traceparent(),
    )
    row = insert(OUTBOX).values(
        id=event.id,
        topic=topic,
        key=key if key is not None else subject,
        type=event.type,
        source=event.source,
        subject=event.subject,
        dataschema=event.dataschema,
        data=payload,
        traceparent=event.traceparent,
        created_at=event.time,
    )
    if schema:
        # One round trip for both: the NOTIFY rides on the INSERT as a data-modifying
        # CTE (which always runs to completion); it is delivered at commit.
        inserted = row.returning(OUTBOX.c.seq).cte("outbox_row")
        await session.execute(
            select(func.pg_notify(notify_channel(schema), "")).select_from(inserted)
        )
    else:
        await session.execute(row)
    return event


@dataclass(frozen=True)
class OutboxRow:
    id: Any
    seq: int
    topic: str
    key: str | None
    type: str
    source: str
    subject: str | None
    dataschema: str | None
    data: dict[str, Any]
    traceparent: str | None
    created_at: datetime
    attempts: int

    def to_event(self, traceparent: str | None = None) -> CloudEvent:
        return CloudEvent(
            id=self.id,
            source=self.source,
            type=self.type,
            subject=self.subject,
            data=self.data,
            time=self.created_at,
            dataschema=self.dataschema,
            traceparent=traceparent or self.traceparent,
        )


_SELECT_PENDING = (
    "SELECT id, seq, topic, key, type, source, subject, dataschema, data, traceparent,"
    " created_at, attempts FROM outbox WHERE status = 'pending'"
    " ORDER BY seq LIMIT $1 FOR UPDATE SKIP LOCKED"
)
_MARK_PUBLISHED = (
    "UPDATE outbox SET status = 'published', published_at = now(), last_error = NULL"
    " WHERE id = ANY($1::uuid[])"
)
_MARK_FAILED_ATTEMPT = (
    "UPDATE outbox SET attempts = attempts + 1, last_error = $2, status = $3 WHERE id = $1"
)

AfterSend = Callable[[Sequence[OutboxRow]], Awaitable[None]]
ProducerFactory = Callable[[], AIOKafkaProducer]


class OutboxRelay:
    """Publishes the service's outbox to Kafka until stopped.

    ``after_send`` (tests) is awaited after a batch was sent and before it is marked
    published; if it raises, the batch stays pending and is sent again, exactly as after
    a crash at that point. ``poll_interval`` is the fallback when no NOTIFY arrives.
    """

    def __init__(
        self,
        settings: ServiceSettings,
        db: Database,
        *,
        batch_size: int | None = None,
        poll_interval: float | None = None,
        backoff_initial: float = 0.5,
        backoff_max: float = 30.0,
        after_send: AfterSend | None = None,
        producer_factory: ProducerFactory | None = None,
        housekeeping: Sequence[Callable[[Database], Awaitable[int]]] = (),
    ) -> None:
        self.settings = settings
        self.extra_housekeeping = list(housekeeping)
        self.db = db
        self.schema = settings.db_schema
        self.batch_size = batch_size or settings.outbox_batch_size
        self.poll_interval = (
            poll_interval if poll_interval is not None else settings.outbox_poll_interval_s
        )
        self.backoff_initial = backoff_initial
        self.backoff_max = backoff_max
        self.after_send = after_send
        self._producer_factory = producer_factory or self._default_producer
        self._producer: AIOKafkaProducer | None = None
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self._listener: asyncpg.Connection | None = None
        self._conn: asyncpg.Connection | None = None
        self._tracer = get_tracer("kit.outbox")
        self.published_count = 0
        self._backlog_at = float("-inf")
        self._housekeeping = Every(settings.housekeeping_interval_s)
        setup_tracing(settings.service_name, settings.otlp_endpoint)

    def _default_producer(self) -> AIOKafkaProducer:
        return AIOKafkaProducer(
            bootstrap_servers=self.settings.kafka_bootstrap_servers,
            client_id=f"{self.settings.service_name}-outbox",
            enable_idempotence=True,
            acks="all",
            request_timeout_ms=15000,
            retry_backoff_ms=200,
            linger_ms=5,
        )

    # -- lifecycle ---------------------------------------------------------------------

    async def run(self) -> None:
        """Publish until :meth:`stop` (or cancellation); never raises for Kafka/DB outages."""
        backoff = self.backoff_initial
        try:
            while not self._stopping.is_set():
                await self._ensure_listener()
                self._wake.clear()
                try:
                    _, full = await self.publish_batch()
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    OUTBOX_PUBLISH_ERRORS.labels(self.settings.service_name).inc()
                    log.warning("outbox publish failed, retrying in %.1fs: %r", backoff, exc)
                    await self._reset_producer()
                    await self._sleep(backoff * (0.8 + 0.4 * random.random()))
                    backoff = min(backoff * 2, self.backoff_max)
                    continue
                backoff = self.backoff_initial
                await self._update_backlog()
                if full:
                    continue
                if self._housekeeping.due():
                    await self.housekeep()
                await self._wait_for_work()
        finally:
            await self._close()

    async def housekeep(self) -> int:
        """Delete published rows past ``outbox_retention_s`` and expired idempotency
        answers (see :mod:`kit.housekeeping`), then run the service's own
        ``housekeeping`` callables (each ``await fn(db)`` returns the rows it deleted);
        returns the rows deleted. Failures are logged and left for the next round."""
        batch = self.settings.housekeeping_batch_size
        try:
            deleted = await prune_outbox(
                self.db, retention=timedelta(seconds=self.settings.outbox_retention_s), batch=batch
            )
            deleted += await prune_idempotency_keys(self.db, batch=batch)
            for prune in self.extra_housekeeping:
                deleted += await prune(self.db)
        except Exception as exc:
            log.warning("outbox housekeeping failed: %r", exc)
            return 0
        if deleted:
            log.info("outbox housekeeping deleted %d rows", deleted)
        return deleted

    async def stop(self) -> None:
        """Ask :meth:`run` to finish after the batch in progress."""
        self._stopping.set()
        self._wake.set()

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), seconds)

    async def _wait_for_work(self) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), self.poll_interval)

    async def _ensure_listener(self) -> None:
        if self._listener is not None and not self._listener.is_closed():
            return
        self._listener = None
        try:
            conn = await asyncpg.connect(self.settings.asyncpg_dsn, timeout=5)
            await conn.add_listener(notify_channel(self.schema), self._on_notify)
            conn.add_termination_listener(lambda _c: self._wake.set())
            self._listener = conn
        except Exception as exc:
            # Without LISTEN the relay still works on its fallback timer.
            log.warning("outbox LISTEN unavailable: %r", exc)

    def _on_notify(self, *_args: Any) -> None:
        self._wake.set()

    async def _work_connection(self) -> asyncpg.Connection:
        """The relay's own connection for its batches: plain asyncpg statements (the
        relay's per-event cost is mostly statement overhead), ``search_path`` pinned to
        the service schema like :class:`~kit.db.Database`'s connections."""
        if self._conn is None or self._conn.is_closed():
            conn = await asyncpg.connect(
                self.settings.asyncpg_dsn,
                timeout=5,
                server_settings={
                    "search_path": self.schema,
                    "application_name": f"{self.settings.service_name}-relay",
                },
            )
            await conn.set_type_codec(
                "jsonb",
                encoder=lambda value: orjson.dumps(value).decode(),
                decoder=orjson.loads,
                schema="pg_catalog",
            )
            self._conn = conn
        return self._conn

    async def _get_producer(self) -> AIOKafkaProducer:
        if self._producer is None:
            producer = self._producer_factory()
            try:
                await producer.start()
            except BaseException:
                await _stop_quietly(producer)
                raise
            self._producer = producer
        return self._producer

    async def _reset_producer(self) -> None:
        producer, self._producer = self._producer, None
        if producer is not None:
            await _stop_quietly(producer)

    async def _close(self) -> None:
        await self._reset_producer()
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                await conn.close(timeout=5)
        if self._listener is not None:
            with contextlib.suppress(Exception):  # it may already be gone
                await self._listener.close(timeout=2)
            self._listener = None

    async def _update_backlog(self) -> None:
        # The gauge is for dashboards; under load a count per batch would double the
        # relay's database work, so it is refreshed at most once a second.
        now = asyncio.get_running_loop().time()
        if now - self._backlog_at < 1.0:
            return
        self._backlog_at = now
        try:
            async with self.db.session() as session:
                count = await session.scalar(
                    select(func.count()).select_from(OUTBOX).where(OUTBOX.c.status == PENDING)
                )
            OUTBOX_BACKLOG.labels(self.settings.service_name).set(count or 0)
        except Exception as exc:
            log.debug("outbox backlog query failed: %r", exc)

    # -- publishing ----------------------------------------------------------------------

    async def publish_batch(self) -> tuple[int, bool]:
        """Send one batch of pending rows in order and mark the sent ones published.

        Returns (rows published, whether the batch was full). Raises when Kafka or the
        database fails; rows not marked stay pending (with ``attempts``/``last_error``
        updated when possible).
        """
        conn = await self._work_connection()
        try:
            async with conn.transaction():
                records = await conn.fetch(_SELECT_PENDING, self.batch_size)
                rows = [OutboxRow(**dict(r)) for r in records]
                if not rows:
                    return 0, False
                producer = await self._get_producer()
                sent, error = await self._send(producer, rows)
                if sent and self.after_send is not None:
                    await self.after_send(sent)
                if sent:
                    await conn.execute(_MARK_PUBLISHED, [r.id for r in sent])
                if error is not None:
                    failed_row, exc = error
                    permanent = isinstance(exc, PERMANENT_ERRORS)
                    await conn.execute(
                        _MARK_FAILED_ATTEMPT,
                        failed_row.id,
                        f"{type(exc).__name__}: {exc}"[:2000],
                        FAILED if permanent else PENDING,
                    )
        except BaseException:
            if conn.is_closed():
                self._conn = None
            raise
        self.published_count += len(sent)
        for row in sent:
            OUTBOX_PUBLISHED.labels(self.settings.service_name, row.topic).inc()
        if error is not None and not isinstance(error[1], PERMANENT_ERRORS):
            raise error[1]
        if error is not None:
            log.error("outbox row %s failed permanently: %r", error[0].id, error[1])
        return len(sent), len(rows) == self.batch_size

    async def _send(
        self, producer: AIOKafkaProducer, rows: list[OutboxRow]
    ) -> tuple[list[OutboxRow], tuple[OutboxRow, BaseException] | None]:
        """Send rows pipelined; the sent prefix, and the first failure if any.

        Only the prefix before the first failure counts as sent, so a retry can never put
        a later event of a key before an earlier one.
        """
        futures: list[asyncio.Future[Any]] = []
        enqueue_error: tuple[int, BaseException] | None = None
        for index, row in enumerate(rows):
            with self._tracer.start_as_current_span(
                f"{row.topic} publish",
                context=context_from_traceparent(row.traceparent),
                kind=SpanKind.PRODUCER,
                attributes={
                    "messaging.system": "kafka",
                    "messaging.destination.name": row.topic,
                    "messaging.message.id": str(row.id),
                },
            ):
                message = row.to_event(traceparent=inject_traceparent()).to_kafka()
                try:
                    futures.append(
                        await producer.send(
                            row.topic,
                            value=message.value,
                            key=row.key.encode() if row.key is not None else None,
                            headers=message.headers,
                        )
                    )
                except Exception as exc:
                    enqueue_error = (index, exc)
                    break
        results = await asyncio.gather(*futures, return_exceptions=True)
        sent: list[OutboxRow] = []
        for row, outcome in zip(rows, results, strict=False):
            if isinstance(outcome, BaseException):
                return sent, (row, outcome)
            sent.append(row)
        if enqueue_error is not None:
            return sent, (rows[enqueue_error[0]], enqueue_error[1])
        return sent, None


async def _stop_quietly(producer: AIOKafkaProducer) -> None:
    try:
        await asyncio.wait_for(producer.stop(), 5)
    except Exception as exc:
        log.debug("producer stop failed: %r", exc)
