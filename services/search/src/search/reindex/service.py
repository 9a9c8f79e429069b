"""Rebuilding a collection as a new version and swapping its alias, with no downtime.

1. (``replay`` only) Every topic search consumes is read from the beginning by a
   dedicated consumer group ``<group>.reindex.<job>``, up to the end offsets found at
   the start, and applied to the read model only. Application is version-checked, so
   events the live consumer already applied change nothing.
2. A new, empty collection version is created and backfilled from the read model
   (``documents``) while the alias keeps serving the current version and the live
   consumer keeps writing to it.
3. Under the index lock taken exclusively (in-flight event handlers finish first, new
   ones wait), the documents written since the backfill began are applied to the new
   version, then the alias is moved to it. Readers never see a missing collection.
4. The old version is dropped.

One reindex per collection runs at a time (a session advisory lock); a second gets
:class:`ReindexBusy`. On failure the new version is dropped and the alias is untouched.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
import zlib
from collections.abc import Callable
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from kit.db import Database
from kit.events import CloudEvent, EventDecodeError
from sqlalchemy import text

from search.collections import Kind, community_document, post_document, user_document
from search.indexing import repository as index_repo
from search.indexing.service import apply_to_read_model
from search.reindex import repository as repo
from search.runtime import Runtime
from search.stats.metrics import REINDEX_RUNS
from search.typesense import TypesenseNotFound

log = logging.getLogger("search.reindex")


class ReindexBusy(Exception):
    """A reindex of this collection is already running."""


def _lock_key(kind: str) -> int:
    return 0x5EA400000 + zlib.crc32(kind.encode()) % 100_000


def build_document(
    kind: Kind, source: dict[str, Any], community_visibility: dict[str, str]
) -> dict[str, Any]:
    """The collection document of a stored source state."""
    if kind == "users":
        return user_document(source)
    if kind == "communities":
        return community_document(source)
    community = source.get("community_id")
    return post_document(source, community_visibility.get(community) if community else None)


async def replay_topics(
    runtime: Runtime,
    db: Database,
    group_id: str,
    *,
    on_progress: Callable[[int], None] | None = None,
) -> int:
    """Apply every event of the consumed topics, from the beginning up to the current end,
    to the read model. Returns how many events were applied."""
    settings = runtime.settings
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        group_id=group_id,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        isolation_level="read_committed",
    )
    await consumer.start()
    applied = 0
    try:
        existing = await consumer.topics()
        topics = [t for t in settings.topics if t in existing]
        if not topics:
            return 0
        # A fresh group reading from the earliest offsets: every record ever published.
        consumer.subscribe(topics)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 30
        ends: dict[TopicPartition, int] | None = None
        pending: dict[TopicPartition, list[Any]] = {}
        while ends is None:
            batches = await consumer.getmany(timeout_ms=300, max_records=500)
            for tp, records in batches.items():
                pending.setdefault(tp, []).extend(records)
            assignment = consumer.assignment()
            if assignment:
                ends = await consumer.end_offsets(list(assignment))
            elif loop.time() > deadline:
                raise TimeoutError("no partitions assigned to the replay consumer")
        remaining = {tp for tp, end in ends.items() if end > 0}
        while remaining:
            for tp, records in pending.items():
                for record in records:
                    if record.offset < ends.get(tp, 0):
                        applied += await _replay_one(db, record)
            for tp in list(remaining):
                if await consumer.position(tp) >= ends[tp]:
                    remaining.discard(tp)
            if on_progress:
                on_progress(applied)
            if not remaining:
                break
            batches = await consumer.getmany(*remaining, timeout_ms=500, max_records=500)
            pending = dict(batches)
        with contextlib.suppress(Exception):
            await consumer.commit({tp: end for tp, end in ends.items()})
    finally:
        await consumer.stop()
    return applied


async def _replay_one(db: Database, record: Any) -> int:
    """Apply one record to the read model; 1 if applied, 0 if it was unusable."""
    try:
        event = CloudEvent.from_kafka(record)
    except EventDecodeError:
        return 0
    try:
        async with db.session() as session:
            await apply_to_read_model(session, event)
    except Exception as exc:  # the live consumer dead-letters these; a replay skips them
        log.warning("replay skipped event %s: %r", event.id, exc)
        return 0
    return 1


async def reindex(
    runtime: Runtime,
    db: Database,
    kind: Kind,
    *,
    source: str = "backfill",
    job_id: uuid.UUID | None = None,
) -> dict[str, Any]:
    """Build a new version of ``kind`` and move the alias to it; the finished job row.

    Raises :class:`ReindexBusy` when another reindex of ``kind`` holds the lock.
    """
    job_id = job_id or uuid.uuid4()
    async with db.engine.connect() as lock_conn:
        got = await lock_conn.scalar(
            text("SELECT pg_try_advisory_lock(:k)"), {"k": _lock_key(kind)}
        )
        await lock_conn.commit()
        if not got:
            raise ReindexBusy(f"a reindex of {kind} is already running")
        try:
            return await _run(runtime, db, kind, source, job_id)
        finally:
            await lock_conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _lock_key(kind)})
            await lock_conn.commit()


async def start_job(db: Database, kind: Kind, source: str) -> uuid.UUID:
    """Record a new running job (the caller then runs :func:`reindex` with its id)."""
    job_id = uuid.uuid4()
    async with db.session() as session:
        if await repo.running_job(session, kind) is not None:
            raise ReindexBusy(f"a reindex of {kind} is already running")
        await repo.create_job(session, job_id, kind, source)
    return job_id


async def _run(
    runtime: Runtime, db: Database, kind: Kind, source: str, job_id: uuid.UUID
) -> dict[str, Any]:
    async with db.session() as session:
        if await repo.get_job(session, job_id) is None:
            await repo.create_job(session, job_id, kind, source)
    collections = runtime.collections
    client = runtime.typesense
    new_name: str | None = None
    try:
        replayed = 0
        if source == "replay":
            group = f"{runtime.settings.consumer_group}.reindex.{job_id.hex[:12]}"
            replayed = await replay_topics(runtime, db, group)
        old_name = await collections.current(kind)
        new_name = await collections.create_next_version(kind)
        async with db.session() as session:
            await repo.update_job(
                session,
                job_id,
                new_collection=new_name,
                old_collection=old_name,
                replayed_events=replayed,
            )
        async with db.session() as session:
            started = await index_repo.db_now(session)
            gates = await index_repo.community_visibilities(session) if kind == "posts" else {}
            count = 0
            async for batch in index_repo.stream_documents(
                session, kind, batch=runtime.settings.reindex_batch_size
            ):
                docs = [build_document(kind, d.source, gates) for d in batch if d.source]
                count += await client.import_documents(new_name, docs)
        async with db.session() as session:
            await index_repo.lock_index_exclusive(session)
            gates = await index_repo.community_visibilities(session) if kind == "posts" else {}
            async for batch in index_repo.stream_documents(
                session, kind, changed_since=started, include_deleted=True
            ):
                live = [build_document(kind, d.source, gates) for d in batch if d.source]
                await client.import_documents(new_name, live)
                for gone in (d for d in batch if d.deleted or not d.source):
                    await client.delete(new_name, str(gone.doc_id))
            await client.upsert_alias(collections.alias(kind), new_name)
        if old_name and old_name != new_name:
            with contextlib.suppress(TypesenseNotFound):
                await client.delete_collection(old_name)
        async with db.session() as session:
            await repo.update_job(session, job_id, status="done", documents=count, finished=True)
            job = await repo.get_job(session, job_id)
        REINDEX_RUNS.labels(kind, "done").inc()
        log.info("reindexed %s into %s (%d documents)", kind, new_name, count)
        assert job is not None
        return job
    except BaseException as exc:
        REINDEX_RUNS.labels(kind, "failed").inc()
        log.exception("reindex of %s failed", kind)
        if new_name is not None and await _safe_current(runtime, kind) != new_name:
            with contextlib.suppress(Exception):
                await client.delete_collection(new_name)
        with contextlib.suppress(Exception):
            async with db.session() as session:
                await repo.update_job(
                    session, job_id, status="failed", error=repr(exc)[:2000], finished=True
                )
        raise


async def _safe_current(runtime: Runtime, kind: Kind) -> str | None:
    try:
        return await runtime.collections.current(kind)
    except Exception:
        return None


def run_in_background(
    runtime: Runtime, db: Database, kind: Kind, source: str, job_id: uuid.UUID
) -> asyncio.Task[Any]:
    """Run a reindex as a task of this process (admin endpoint)."""

    async def run() -> None:
        with contextlib.suppress(Exception):  # the job row records the failure
            await reindex(runtime, db, kind, source=source, job_id=job_id)

    return asyncio.create_task(run(), name=f"search-reindex-{kind}")
