"""Process-wide collaborators of the content service, kept on ``app.state.content``.

Also :data:`AfterCommit`: work (cache invalidation) that must run only once the
request's transaction has committed.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Annotated

import asyncpg
from fastapi import Depends, Request
from kit.db import ReadPool
from redis.asyncio import Redis

from content.media.storage import LocalDiskStorage, Storage
from content.posts.cache import PostCache
from content.reactions.views import ViewCounter
from content.settings import ContentSettings
from content.timelines.store import TimelineStore

log = logging.getLogger("content.runtime")


@dataclass
class Runtime:
    settings: ContentSettings
    redis: Redis
    storage: Storage
    posts: PostCache
    timelines: TimelineStore
    views: ViewCounter
    #: A small asyncpg pool for the hot read paths' few raw queries (no ORM, no
    #: transaction); opened on first use.
    _read: ReadPool | None = None

    @classmethod
    def from_settings(cls, settings: ContentSettings, *, redis: Redis | None = None) -> Runtime:
        redis = redis or Redis.from_url(settings.redis_url)
        return cls(
            settings=settings,
            redis=redis,
            storage=LocalDiskStorage(settings.media_dir),
            posts=PostCache(
                redis,
                ttl_s=settings.post_cache_ttl_s,
                lock_s=settings.post_cache_lock_s,
            ),
            timelines=TimelineStore(redis, max_entries=settings.timeline_max_entries),
            views=ViewCounter(redis),
        )

    async def pg(self) -> asyncpg.Pool:
        """The read pool (``search_path`` pinned to the service schema like kit.db's)."""
        if self._read is None:
            self._read = ReadPool(self.settings, self.settings.read_pool_size)
        pool: asyncpg.Pool = await self._read.get()
        return pool

    async def aclose(self) -> None:
        if self._read is not None:
            await self._read.close()
        await self.redis.aclose()


async def get_runtime(request: Request) -> Runtime:
    # async: a plain ``def`` dependency would cost a worker-thread hop per request.
    runtime: Runtime = request.app.state.content
    return runtime


Rt = Annotated[Runtime, Depends(get_runtime)]


@dataclass
class AfterCommitHooks:
    """Callbacks to run after the request's transaction committed (never on failure),
    and compensations to run instead when the request fails (the endpoint raised or the
    commit did): e.g. removing a stored file whose row was never written."""

    callbacks: list[Callable[[], Awaitable[object]]] = field(default_factory=list)
    compensations: list[Callable[[], Awaitable[object]]] = field(default_factory=list)

    def add(self, callback: Callable[[], Awaitable[object]]) -> None:
        self.callbacks.append(callback)

    def on_failure(self, compensation: Callable[[], Awaitable[object]]) -> None:
        self.compensations.append(compensation)

    async def run(self) -> None:
        for callback in self.callbacks:
            await callback()

    async def compensate(self) -> None:
        """Run every compensation; one that fails is logged, the others still run."""
        for compensation in self.compensations:
            try:
                await compensation()
            except Exception as exc:
                log.warning("compensation after a failed request failed: %r", exc)


async def _after_commit() -> AsyncIterator[AfterCommitHooks]:
    hooks = AfterCommitHooks()
    try:
        yield hooks
    except BaseException:
        await hooks.compensate()
        raise
    # Reached only when the endpoint succeeded. This dependency is set up before the
    # request's Session (it must be the endpoint's first parameter), so it is torn down
    # after the Session committed, and still before the response is sent.
    await hooks.run()


AfterCommit = Annotated[AfterCommitHooks, Depends(_after_commit, scope="function")]
