"""View counting, built for the highest-volume write of the platform.

A view is one ``HINCRBY`` on a Redis hash (``content:views``); no database row per
view. :func:`flush_views` periodically moves the buffered counts into ``posts.view_count``
(and the hot score) in one transaction. The hash is first renamed to a batch key, so
views arriving during a flush go to a fresh hash; the batch's id is written to the
inbox table in the same transaction as the counts, so a flush interrupted after its
commit is not counted twice when it is retried.
"""

from __future__ import annotations

import logging
import uuid

from kit.ids import uuid7
from redis.asyncio import Redis
from redis.exceptions import RedisError, ResponseError

log = logging.getLogger("content.views")

PENDING_KEY = "content:views"
BATCH_PREFIX = "content:views:batch:"


class ViewCounter:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis

    async def record(self, post_id: uuid.UUID, count: int = 1) -> None:
        """Count ``count`` views of a post (best effort: a Redis outage drops them)."""
        try:
            await self.redis.hincrby(PENDING_KEY, str(post_id), count)
        except RedisError as exc:
            log.warning("view not recorded: %r", exc)

    async def take_batch(self) -> str | None:
        """Move the pending counts to a new batch key; None when there is nothing."""
        batch_key = f"{BATCH_PREFIX}{uuid7()}"
        try:
            await self.redis.rename(PENDING_KEY, batch_key)
        except ResponseError:  # no such key: no views since the last flush
            return None
        return batch_key

    async def batches(self) -> list[str]:
        """Every batch key not yet finished (left by an interrupted flush, or just taken)."""
        return sorted(
            [
                k.decode() if isinstance(k, bytes) else k
                async for k in self.redis.scan_iter(match=f"{BATCH_PREFIX}*", count=100)
            ]
        )

    async def read_batch(self, batch_key: str) -> dict[uuid.UUID, int]:
        raw = await self.redis.hgetall(batch_key)
        counts: dict[uuid.UUID, int] = {}
        for field, value in raw.items():
            try:
                counts[uuid.UUID(field.decode() if isinstance(field, bytes) else field)] = int(
                    value
                )
            except ValueError:
                continue
        return counts

    async def finish(self, batch_key: str) -> None:
        await self.redis.delete(batch_key)


def batch_id(batch_key: str) -> uuid.UUID:
    """The id under which a batch is recorded as applied (from its key)."""
    return uuid.UUID(batch_key.removeprefix(BATCH_PREFIX))
