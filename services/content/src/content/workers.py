"""The background work of the content service: the outbox relay, the identity consumer,
the timeline fan-out consumer and the view flusher. ``content serve`` runs them beside
the HTTP server; the CLI can run each alone."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Protocol

from kit.consumer import EventConsumer
from kit.db import Database
from kit.events import CloudEvent
from kit.housekeeping import Every, prune_inbox
from kit.outbox import OutboxRelay
from sqlalchemy.ext.asyncio import AsyncSession

from content.graph import handlers as identity_handlers
from content.posts import service as post_service
from content.reactions.views import batch_id
from content.runtime import Runtime
from content.timelines import fanout

log = logging.getLogger("content.workers")


class Worker(Protocol):
    async def run(self) -> None: ...

    async def stop(self) -> None: ...


def identity_consumer(
    rt: Runtime,
    db: Database,
    *,
    topics: tuple[str, ...] = identity_handlers.TOPICS,
    group_id: str = identity_handlers.GROUP,
) -> EventConsumer:
    async def handler(session: AsyncSession, event: CloudEvent) -> None:
        await identity_handlers.handle(session, rt, event)

    return EventConsumer(rt.settings, db, group_id, list(topics), handler)


def timeline_consumer(
    rt: Runtime,
    db: Database,
    *,
    topics: tuple[str, ...] = fanout.TOPICS,
    group_id: str = fanout.GROUP,
) -> EventConsumer:
    async def handler(session: AsyncSession, event: CloudEvent) -> None:
        await fanout.handle(session, rt, event)

    return EventConsumer(rt.settings, db, group_id, list(topics), handler)


async def flush_views_once(rt: Runtime, db: Database) -> int:
    """Move buffered view counts into the database; returns the posts updated.

    Batches left by an interrupted flush are finished first; a batch whose id is in
    the inbox was applied already and is only removed.
    """
    await rt.views.take_batch()
    updated = 0
    for key in await rt.views.batches():
        counts = await rt.views.read_batch(key)
        if counts:
            async with db.session() as session:
                if await post_service.mark_batch_applied(session, batch_id(key)):
                    updated += await post_service.apply_view_counts(session, counts)
        await rt.views.finish(key)
    return updated


class ViewFlusher:
    def __init__(self, rt: Runtime, db: Database) -> None:
        self.rt = rt
        self.db = db
        self._stopping = asyncio.Event()
        self._housekeeping = Every(rt.settings.housekeeping_interval_s)

    async def run(self) -> None:
        """A :meth:`round` every ``view_flush_interval_s`` until stopped."""
        while not self._stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    self._stopping.wait(), self.rt.settings.view_flush_interval_s
                )
            try:
                await self.round()
            except Exception as exc:  # keep counting; the batch stays for the next round
                log.warning("view flush failed: %r", exc)

    async def round(self) -> None:
        """Flush the buffered views; now and then also prune the inbox rows of applied
        batches (they only guard a batch until it is finished, seconds later)."""
        await flush_views_once(self.rt, self.db)
        if self._housekeeping.due():
            await prune_inbox(
                self.db,
                post_service.VIEWS_GROUP,
                retention=timedelta(seconds=self.rt.settings.inbox_retention_s),
                batch=self.rt.settings.housekeeping_batch_size,
            )

    async def stop(self) -> None:
        self._stopping.set()


def serve_workers(rt: Runtime, db: Database) -> list[tuple[str, Worker]]:
    """The workers ``content serve`` runs, as its settings enable them."""
    settings = rt.settings
    workers: list[tuple[str, Worker]] = []
    if settings.run_outbox_relay:
        workers.append(("outbox-relay", OutboxRelay(settings, db)))
    if settings.run_consumers:
        workers.append(("identity-consumer", identity_consumer(rt, db)))
        workers.append(("timeline-consumer", timeline_consumer(rt, db)))
    if settings.run_view_flusher:
        workers.append(("view-flusher", ViewFlusher(rt, db)))
    return workers


class WorkerSet:
    """Runs workers as tasks and stops them together."""

    def __init__(self, workers: list[tuple[str, Worker]]) -> None:
        self.workers = workers
        self.tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        for name, worker in self.workers:
            self.tasks.append(asyncio.create_task(worker.run(), name=f"content-{name}"))

    async def stop(self, grace_s: float = 10.0) -> None:
        for _, worker in self.workers:
            await worker.stop()
        for task in self.tasks:
            try:
                await asyncio.wait_for(task, timeout=grace_s)
            except TimeoutError:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            except Exception as exc:
                log.warning("worker %s ended with %r", task.get_name(), exc)


async def run_until_signalled(
    workers: list[tuple[str, Worker]], on_stop: Callable[[], Awaitable[None]]
) -> None:
    """Run ``workers`` until SIGINT/SIGTERM, then stop them and call ``on_stop``."""
    import signal

    done = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, done.set)
    group = WorkerSet(workers)
    group.start()
    try:
        await done.wait()
    finally:
        await group.stop()
        await on_stop()
