"""Read-model queries the search API needs: who the viewer follows, where they are a
member, and who is on either side of a block with them — and a short-lived cache of
that context.

The context is read with one raw asyncpg statement on the runtime's read pool (no ORM
session, no transaction of its own: a single SELECT is its own snapshot).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from search.query.filters import Viewer

VIEWER_SQL = (
    "SELECT 'f', followee_id FROM follows WHERE follower_id = $1 AND active "
    "UNION ALL SELECT 'm', community_id FROM memberships WHERE user_id = $1 AND active "
    "UNION ALL SELECT 'b', blocked_id FROM blocks WHERE blocker_id = $1 AND active "
    "UNION ALL SELECT 'b', blocker_id FROM blocks WHERE blocked_id = $1 AND active"
)

ANONYMOUS = Viewer()


async def load_viewer(pool: Any, user_id: uuid.UUID | str) -> Viewer:
    """The :class:`Viewer` for ``user_id``, in one round trip on ``pool`` (asyncpg)."""
    uid = user_id if isinstance(user_id, uuid.UUID) else uuid.UUID(str(user_id))
    rows = await pool.fetch(VIEWER_SQL, uid)
    sets: dict[str, set[str]] = {"f": set(), "m": set(), "b": set()}
    for tag, value in rows:
        sets[tag].add(str(value))
    return Viewer(
        user_id=str(uid),
        followees=frozenset(sets["f"]),
        communities=frozenset(sets["m"]),
        blocked=frozenset(sets["b"]),
    )


class ViewerCache:
    """Viewer contexts kept for ``ttl_s`` seconds, dropped early when the graph changes.

    Consistency: the indexer calls :meth:`invalidate` for the users an applied follow,
    block or membership event concerns *after* its transaction commits, and a load that
    was under way when an invalidation happened is not stored (a generation counter), so
    in a process that consumes the events itself a change is visible to the next query.
    Changes applied by another process (a second worker's consumer, ``search consume``
    running apart) reach this cache only when the entry expires: they take effect up to
    ``ttl_s`` later than the read model, on top of the event delivery lag. Keep ``ttl_s``
    short (default 2 s); 0 disables caching.
    """

    def __init__(
        self,
        load: Callable[[uuid.UUID | str], Awaitable[Viewer]],
        *,
        ttl_s: float,
        max_entries: int = 20_000,
    ) -> None:
        self._load = load
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self._entries: dict[str, tuple[float, Viewer]] = {}
        self._generation = 0

    async def get(self, user_id: uuid.UUID | str | None) -> Viewer:
        """The context of ``user_id`` (anonymous for None)."""
        if user_id is None:
            return ANONYMOUS
        key = str(user_id) if isinstance(user_id, uuid.UUID) else _key(user_id)
        if self.ttl_s <= 0:
            return await self._load(user_id)
        now = time.monotonic()
        entry = self._entries.get(key)
        if entry is not None and now - entry[0] < self.ttl_s:
            return entry[1]
        generation = self._generation
        viewer = await self._load(user_id)
        if generation == self._generation:
            if len(self._entries) >= self.max_entries:
                self._evict(now)
            self._entries[key] = (now, viewer)
        return viewer

    def _evict(self, now: float) -> None:
        fresh = {k: v for k, v in self._entries.items() if now - v[0] < self.ttl_s}
        if len(fresh) >= self.max_entries:
            # Still full of fresh entries: drop the older half (dicts keep insertion order).
            fresh = dict(list(fresh.items())[len(fresh) // 2 :])
        self._entries = fresh

    def invalidate(self, user_ids: Iterable[str] | None) -> None:
        """Forget ``user_ids`` (None: everyone). Call after the change has committed."""
        self._generation += 1
        if user_ids is None:
            self._entries.clear()
            return
        for uid in user_ids:
            self._entries.pop(_key(uid), None)


def _key(user_id: uuid.UUID | str) -> str:
    """The canonical text of a user id (event data and tokens may spell it differently)."""
    try:
        return str(uuid.UUID(str(user_id)))
    except ValueError:
        return str(user_id)
