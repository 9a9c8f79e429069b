"""The search HTTP application.

At startup: migrate the schema to head, make sure every collection alias exists, and
run the event consumer (group ``search``) and the statistics writer in the background.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from kit.app import create_app as kit_create_app
from kit.consumer import EventConsumer
from kit.db import Database
from kit.health import check_db, check_kafka
from kit.migrations import migrate

from search.indexing.service import make_handler
from search.query.router import router as query_router
from search.reindex.router import router as reindex_router
from search.runtime import Runtime
from search.settings import SearchSettings
from search.stats.router import router as stats_router

log = logging.getLogger("search")

MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "migrations"


def migrations_dir(settings: SearchSettings) -> Path:
    """The Alembic scripts directory: ``settings.migrations_dir`` or the source tree's."""
    return Path(settings.migrations_dir) if settings.migrations_dir else MIGRATIONS_DIR


def make_consumer(settings: SearchSettings, db: Database, runtime: Runtime) -> EventConsumer:
    """The live indexer: every consumed topic, group ``settings.consumer_group``.

    Contract validation happens in the handler (types not yet in ``contracts`` are
    checked against search's own event models instead of being dead-lettered).
    """
    return EventConsumer(
        settings,
        db,
        group_id=settings.consumer_group,
        topics=settings.topics,
        handler=make_handler(runtime.indexer),
        validate=False,
        # A topic that does not exist yet (no event published so far) is picked up at
        # the next metadata refresh: keep that short so the first events are not late.
        consumer_kwargs={"metadata_max_age_ms": settings.topic_refresh_ms},
    )


async def stop_task(stopper: object, task: asyncio.Task[None]) -> None:
    await stopper.stop()  # type: ignore[attr-defined]
    try:
        await asyncio.wait_for(task, timeout=10)
    except TimeoutError:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def create_app(settings: SearchSettings | None = None) -> FastAPI:
    """The search FastAPI app (routes under the service's own paths; the gateway strips
    ``/v1/search``)."""
    settings = settings or SearchSettings()
    runtime = Runtime.from_settings(settings)

    async def check_typesense() -> None:
        if not await runtime.typesense.health():
            raise RuntimeError("typesense is not healthy")

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        db: Database = app.state.db
        if settings.migrate_on_start:
            await migrate(settings, migrations_dir(settings))
        await runtime.collections.ensure_all()
        await runtime.pg()
        app.state.search = runtime
        app.state.search_tasks = set()
        stats_task = asyncio.create_task(runtime.stats.run(), name="search-stats")
        consumer: EventConsumer | None = None
        consumer_task: asyncio.Task[None] | None = None
        if settings.run_consumer:
            consumer = make_consumer(settings, db, runtime)
            consumer_task = asyncio.create_task(consumer.run(), name="search-consumer")
        app.state.search_consumer = consumer
        try:
            yield
        finally:
            if consumer is not None and consumer_task is not None:
                await stop_task(consumer, consumer_task)
            for task in list(app.state.search_tasks):
                task.cancel()
                with contextlib.suppress(BaseException):
                    await task
            # Stores the statistics still buffered before the pool closes.
            runtime.stats.stop()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(stats_task, timeout=10)
            await runtime.aclose()

    db = Database(settings)
    return kit_create_app(
        settings,
        title="search",
        routers=[query_router, stats_router, reindex_router],
        lifespan=lifespan,
        database=db,
        # Search answers from Typesense and its own schema; it does not use Redis.
        checks={
            "db": check_db(db),
            "kafka": check_kafka(settings.kafka_bootstrap_servers),
            "typesense": check_typesense,
        },
    )
