"""The messaging HTTP application.

At startup: migrate the schema to head, then run in the background (each switchable
off in the settings, to run apart with the ``messaging`` command) the outbox relay,
the event consumer (group ``messaging``) and the periodic jobs (digests, room expiry).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Protocol

from fastapi import FastAPI
from kit.app import create_app as kit_create_app
from kit.consumer import EventConsumer
from kit.db import Database
from kit.migrations import migrate
from kit.outbox import OutboxRelay
from redis.asyncio import Redis

from messaging.calls.router import router as calls_router
from messaging.consumers.handler import EventHandler
from messaging.conversations.router import router as conversations_router
from messaging.digests.service import done_digest_pruner
from messaging.jobs import Jobs
from messaging.messages.router import router as messages_router
from messaging.notifications.router import router as notifications_router
from messaging.runtime import Runtime
from messaging.settings import MessagingSettings

log = logging.getLogger("messaging")

MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "migrations"


class _Worker(Protocol):
    async def run(self) -> None: ...
    async def stop(self) -> None: ...


def migrations_dir(settings: MessagingSettings) -> Path:
    """The Alembic scripts directory: ``settings.migrations_dir`` or the source tree's."""
    return Path(settings.migrations_dir) if settings.migrations_dir else MIGRATIONS_DIR


def make_consumer(
    settings: MessagingSettings, db: Database, redis: Redis | None = None
) -> EventConsumer:
    """The consumer of identity, content and moderation events and of messaging's own
    sent messages (``redis`` answers presence; without it the handler opens its own,
    closed by ``consumer.handler.aclose()``).

    The kit's own contract check is off: the handler checks contracts itself, because it
    also accepts ``moderation.decision.*`` events that have no contract yet.
    """
    handler = EventHandler(settings, redis)
    return EventConsumer(
        settings,
        db,
        group_id=settings.consumer_group,
        topics=settings.consumed_topics,
        handler=handler,
        validate=False,
        wants=handler.wants,
    )


async def _stop(workers: list[tuple[_Worker, asyncio.Task[None]]]) -> None:
    for worker, _ in workers:
        await worker.stop()
    for _, task in workers:
        try:
            await asyncio.wait_for(task, timeout=10)
        except TimeoutError:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


def create_app(settings: MessagingSettings | None = None) -> FastAPI:
    """The messaging FastAPI app (the gateway strips ``/v1/messaging``)."""
    settings = settings or MessagingSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        db: Database = app.state.db
        if settings.migrate_on_start:
            await migrate(settings, migrations_dir(settings))
        runtime = Runtime.from_settings(settings)
        app.state.messaging = runtime
        workers: list[tuple[_Worker, asyncio.Task[None]]] = []
        started: list[tuple[str, _Worker]] = []
        if settings.run_outbox_relay:
            relay = OutboxRelay(settings, db, housekeeping=[done_digest_pruner(settings)])
            started.append(("outbox-relay", relay))
        if settings.run_consumer:
            started.append(("consumer", make_consumer(settings, db, runtime.redis)))
        if settings.run_jobs:
            started.append(("jobs", Jobs(settings, db)))
        for name, worker in started:
            workers.append((worker, asyncio.create_task(worker.run(), name=f"messaging-{name}")))
        try:
            yield
        finally:
            await _stop(workers)
            await runtime.aclose()

    return kit_create_app(
        settings,
        title="messaging",
        routers=[conversations_router, messages_router, notifications_router, calls_router],
        lifespan=lifespan,
    )
