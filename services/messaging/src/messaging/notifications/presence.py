"""Who is online, as the realtime service records it in Redis.

The realtime service keeps ``presence:user:<id>`` (the prefix is a setting) while the
user has at least one live socket; an absent key means offline.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence

from redis.asyncio import Redis
from redis.exceptions import RedisError

log = logging.getLogger("messaging.presence")


async def online(redis: Redis, prefix: str, user_ids: Sequence[uuid.UUID]) -> set[uuid.UUID]:
    """Those of ``user_ids`` with a live socket.

    When Redis cannot answer, everyone counts as offline: a redundant notification is
    better than a missed one.
    """
    if not user_ids:
        return set()
    try:
        async with redis.pipeline(transaction=False) as pipe:
            for user_id in user_ids:
                pipe.exists(f"{prefix}{user_id}")
            answers = await pipe.execute()
    except (RedisError, OSError) as exc:
        log.warning("presence unavailable, treating recipients as offline: %r", exc)
        return set()
    return {u for u, present in zip(user_ids, answers, strict=True) if present}
