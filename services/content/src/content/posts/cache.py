"""Read-through Redis cache of posts, with stampede protection and exact invalidation.

Each post has a version counter (``content:post:<id>:v``) that every change bumps after
its transaction committed. A cached entry records the version it was loaded under and
counts only while that version is current, so a reader that loaded old data just
before a change can never make it current again.

Stampede protection is a single-flight lock: on a miss one reader (holding
``content:post:<id>:lock``, which expires by itself) loads from the database while
the others wait briefly for its result, and load themselves only if it does not come.
Redis being unreachable degrades to reading the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import orjson
from redis.asyncio import Redis
from redis.exceptions import RedisError

log = logging.getLogger("content.cache")

Loader = Callable[[], Awaitable[dict[str, Any] | None]]

PREFIX = "content:post:"
VERSION_TTL_S = 24 * 3600
WAIT_STEP_S = 0.02


class PostCache:
    def __init__(self, redis: Redis, *, ttl_s: int, lock_s: float) -> None:
        self.redis = redis
        self.ttl_s = ttl_s
        self.lock_ms = int(lock_s * 1000)
        self.hits = 0
        self.misses = 0

    @staticmethod
    def _keys(post_id: uuid.UUID) -> tuple[str, str, str]:
        base = f"{PREFIX}{post_id}"
        return base, f"{base}:v", f"{base}:lock"

    async def _lookup(self, post_id: uuid.UUID) -> tuple[dict[str, Any] | None, int]:
        data_key, version_key, _ = self._keys(post_id)
        raw, version = await self.redis.mget(data_key, version_key)
        current = int(version) if version else 0
        if raw:
            entry = orjson.loads(raw)
            if entry.get("v") == current:
                return entry["post"], current
        return None, current

    async def get(self, post_id: uuid.UUID, load: Loader) -> dict[str, Any] | None:
        """The post's cached state, loading it with ``load`` on a miss (None: no post)."""
        try:
            cached, version = await self._lookup(post_id)
        except RedisError as exc:
            log.warning("post cache unavailable: %r", exc)
            return await load()
        if cached is not None:
            self.hits += 1
            return cached
        self.misses += 1
        data_key, _, lock_key = self._keys(post_id)
        token = uuid.uuid4().hex
        try:
            got_lock = await self.redis.set(lock_key, token, nx=True, px=self.lock_ms)
        except RedisError:
            return await load()
        if not got_lock:
            waited = 0.0
            while waited < self.lock_ms / 1000:
                await asyncio.sleep(WAIT_STEP_S)
                waited += WAIT_STEP_S
                try:
                    cached, version = await self._lookup(post_id)
                except RedisError:
                    break
                if cached is not None:
                    self.hits += 1
                    return cached
                if not await self.redis.exists(lock_key):
                    break
            return await load()
        try:
            post = await load()
            if post is not None:
                entry = orjson.dumps({"v": version, "post": post})
                await self.redis.set(data_key, entry, ex=self.ttl_s)
            return post
        finally:
            with contextlib.suppress(RedisError):
                # Release only our own lock (it may have expired and been taken over).
                await self.redis.eval(
                    "if redis.call('get', KEYS[1]) == ARGV[1] then "
                    "return redis.call('del', KEYS[1]) else return 0 end",
                    1,
                    lock_key,
                    token,
                )

    async def get_many(
        self, post_ids: Sequence[uuid.UUID]
    ) -> tuple[dict[uuid.UUID, dict[str, Any]], dict[uuid.UUID, int]]:
        """Current cached states of ``post_ids`` in one round trip: (found, the versions
        of the missing ones, to pass to :meth:`fill` once they were loaded).

        Raises ``RedisError`` when Redis is unreachable (callers read the database).
        """
        if not post_ids:
            return {}, {}
        keys: list[str] = []
        for post_id in post_ids:
            data_key, version_key, _ = self._keys(post_id)
            keys += (data_key, version_key)
        raw = await self.redis.mget(keys)
        found: dict[uuid.UUID, dict[str, Any]] = {}
        missing: dict[uuid.UUID, int] = {}
        for index, post_id in enumerate(post_ids):
            data, version = raw[2 * index], raw[2 * index + 1]
            current = int(version) if version else 0
            if data:
                entry = orjson.loads(data)
                if entry.get("v") == current:
                    found[post_id] = entry["post"]
                    continue
            missing[post_id] = current
        self.hits += len(found)
        self.misses += len(missing)
        return found, missing

    async def fill(self, states: Sequence[dict[str, Any]], versions: dict[uuid.UUID, int]) -> None:
        """Cache posts loaded after :meth:`get_many` reported them missing, each under the
        version read *before* loading (a change since then keeps the entry stale)."""
        if not states:
            return
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                for state in states:
                    post_id = uuid.UUID(state["post_id"])
                    if post_id not in versions:
                        continue
                    entry = orjson.dumps({"v": versions[post_id], "post": state})
                    pipe.set(self._keys(post_id)[0], entry, ex=self.ttl_s)
                await pipe.execute()
        except RedisError as exc:
            log.warning("post cache fill failed: %r", exc)

    async def invalidate(self, *post_ids: uuid.UUID) -> None:
        """Make every cached copy of these posts stale (call after the change committed)."""
        if not post_ids:
            return
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                for post_id in post_ids:
                    data_key, version_key, _ = self._keys(post_id)
                    pipe.incr(version_key)
                    pipe.expire(version_key, VERSION_TTL_S)
                    pipe.delete(data_key)
                await pipe.execute()
        except RedisError as exc:
            # Entries expire after ttl_s anyway; a Redis outage cannot serve them meanwhile.
            log.warning("post cache invalidation failed: %r", exc)
