"""Home timelines in Redis: one sorted set per user of post ids scored by creation time.

``content:home:<user>`` holds the newest ``max_entries`` post ids pushed to the user
(fan-out on write) with their creation time in milliseconds as the score;
``content:home:<user>:built`` says the set was (re)built from the database, so a
missing or flushed set is rebuilt lazily on its next read. Entries are only hints:
every read loads the posts from the database and applies the visibility rules, so a
stale entry (a deleted post, an unfollowed author) is never shown.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime

from redis.asyncio import Redis

PREFIX = "content:home:"
CHUNK = 500


def home_key(user_id: uuid.UUID) -> str:
    return f"{PREFIX}{user_id}"


def built_key(user_id: uuid.UUID) -> str:
    return f"{PREFIX}{user_id}:built"


def score_of(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


class TimelineStore:
    def __init__(self, redis: Redis, *, max_entries: int) -> None:
        self.redis = redis
        self.max_entries = max_entries

    async def push(
        self, post_id: uuid.UUID, created_at: datetime, user_ids: Iterable[uuid.UUID]
    ) -> int:
        """Add a post to each user's home timeline (idempotent); returns how many."""
        member, score = str(post_id), score_of(created_at)
        pushed = 0
        batch: list[uuid.UUID] = []
        for user_id in user_ids:
            batch.append(user_id)
            if len(batch) >= CHUNK:
                pushed += await self._push_batch(member, score, batch)
                batch = []
        if batch:
            pushed += await self._push_batch(member, score, batch)
        return pushed

    async def _push_batch(self, member: str, score: int, user_ids: Sequence[uuid.UUID]) -> int:
        async with self.redis.pipeline(transaction=False) as pipe:
            for user_id in user_ids:
                key = home_key(user_id)
                pipe.zadd(key, {member: score})
                pipe.zremrangebyrank(key, 0, -self.max_entries - 1)
            await pipe.execute()
        return len(user_ids)

    async def add_many(
        self, user_id: uuid.UUID, posts: Sequence[tuple[uuid.UUID, datetime]]
    ) -> None:
        """Add several posts to one user's timeline (backfill after a follow or join)."""
        if not posts:
            return
        key = home_key(user_id)
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.zadd(key, {str(pid): score_of(at) for pid, at in posts})
            pipe.zremrangebyrank(key, 0, -self.max_entries - 1)
            await pipe.execute()

    async def remove(self, post_ids: Sequence[uuid.UUID], user_ids: Iterable[uuid.UUID]) -> None:
        """Remove posts from users' timelines (a delete, an unfollow, a block)."""
        if not post_ids:
            return
        members = [str(p) for p in post_ids]
        async with self.redis.pipeline(transaction=False) as pipe:
            for count, user_id in enumerate(user_ids, start=1):
                pipe.zrem(home_key(user_id), *members)
                if count % CHUNK == 0:
                    await pipe.execute()
            await pipe.execute()

    async def is_built(self, user_id: uuid.UUID) -> bool:
        return bool(await self.redis.exists(built_key(user_id)))

    async def replace(
        self, user_id: uuid.UUID, posts: Sequence[tuple[uuid.UUID, datetime]]
    ) -> None:
        """Make the timeline exactly ``posts`` (a rebuild) and mark it built, atomically."""
        key = home_key(user_id)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.delete(key)
            if posts:
                pipe.zadd(key, {str(pid): score_of(at) for pid, at in posts})
                pipe.zremrangebyrank(key, 0, -self.max_entries - 1)
            pipe.set(built_key(user_id), b"1")
            await pipe.execute()

    async def merge_built(
        self, user_id: uuid.UUID, posts: Sequence[tuple[uuid.UUID, datetime]]
    ) -> None:
        """Add ``posts`` to what fan-out already pushed, and mark the timeline built."""
        key = home_key(user_id)
        async with self.redis.pipeline(transaction=True) as pipe:
            if posts:
                pipe.zadd(key, {str(pid): score_of(at) for pid, at in posts})
                pipe.zremrangebyrank(key, 0, -self.max_entries - 1)
            pipe.set(built_key(user_id), b"1")
            await pipe.execute()

    async def page(
        self, user_id: uuid.UUID, *, max_score: int | None, offset: int, count: int
    ) -> list[tuple[uuid.UUID, int]]:
        """Up to ``count`` (post id, score) entries with score <= ``max_score``, newest
        first (equal scores by descending id), skipping ``offset`` of them."""
        raw = await self.redis.zrevrangebyscore(
            home_key(user_id),
            "+inf" if max_score is None else max_score,
            "-inf",
            start=offset,
            num=count,
            withscores=True,
        )
        out: list[tuple[uuid.UUID, int]] = []
        for entry in raw:
            member, score = entry[0], entry[1]
            text = member.decode() if isinstance(member, bytes) else str(member)
            out.append((uuid.UUID(text), int(score)))
        return out

    async def size(self, user_id: uuid.UUID) -> int:
        return int(await self.redis.zcard(home_key(user_id)))

    async def drop_all(self) -> int:
        """Delete every home timeline and built marker (before a full rebuild)."""
        dropped = 0
        batch: list[bytes | str] = []
        async for key in self.redis.scan_iter(match=f"{PREFIX}*", count=500):
            batch.append(key)
            if len(batch) >= CHUNK:
                dropped += await self.redis.unlink(*batch)
                batch = []
        if batch:
            dropped += await self.redis.unlink(*batch)
        return dropped
