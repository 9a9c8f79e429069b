"""The viewer-context cache: reuse within the TTL, invalidation, in-flight loads."""

from __future__ import annotations

import asyncio
import uuid

from search.query.filters import Viewer
from search.query.repository import ViewerCache


class Loader:
    def __init__(self) -> None:
        self.calls = 0
        self.followees: frozenset[str] = frozenset({"a"})
        self.gate: asyncio.Event | None = None

    async def __call__(self, user_id: uuid.UUID | str) -> Viewer:
        self.calls += 1
        seen = self.followees
        if self.gate is not None:
            await self.gate.wait()
        return Viewer(user_id=str(user_id), followees=seen)


async def test_a_context_is_loaded_once_within_the_ttl() -> None:
    load = Loader()
    cache = ViewerCache(load, ttl_s=60)
    uid = str(uuid.uuid4())
    first = await cache.get(uid)
    assert await cache.get(uid) is first
    assert load.calls == 1


async def test_anonymous_viewers_load_nothing() -> None:
    load = Loader()
    viewer = await ViewerCache(load, ttl_s=60).get(None)
    assert viewer.anonymous and load.calls == 0


async def test_invalidation_makes_the_next_query_read_the_new_edges() -> None:
    load = Loader()
    cache = ViewerCache(load, ttl_s=60)
    uid, other = str(uuid.uuid4()), str(uuid.uuid4())
    await cache.get(uid)
    await cache.get(other)
    load.followees = frozenset({"a", "b"})
    cache.invalidate((uid,))
    assert (await cache.get(uid)).followees == {"a", "b"}
    assert (await cache.get(other)).followees == {"a"}  # untouched users keep theirs
    cache.invalidate(None)
    assert (await cache.get(other)).followees == {"a", "b"}


async def test_invalidation_matches_ids_however_they_are_spelt() -> None:
    load = Loader()
    cache = ViewerCache(load, ttl_s=60)
    uid = uuid.uuid4()
    await cache.get(uid)
    cache.invalidate((str(uid).upper(),))
    await cache.get(uid)
    assert load.calls == 2


async def test_a_load_overtaken_by_an_invalidation_is_not_kept() -> None:
    load = Loader()
    load.gate = asyncio.Event()
    cache = ViewerCache(load, ttl_s=60)
    uid = str(uuid.uuid4())
    pending = asyncio.create_task(cache.get(uid))
    await asyncio.sleep(0)
    cache.invalidate((uid,))  # the edge changed while the old state was being read
    load.gate.set()
    assert (await pending).followees == {"a"}
    load.gate = None
    load.followees = frozenset({"c"})
    assert (await cache.get(uid)).followees == {"c"}
    assert load.calls == 2


async def test_entries_expire_and_ttl_zero_disables_the_cache() -> None:
    load = Loader()
    cache = ViewerCache(load, ttl_s=0.01)
    uid = str(uuid.uuid4())
    await cache.get(uid)
    await asyncio.sleep(0.02)
    await cache.get(uid)
    assert load.calls == 2
    off = ViewerCache(load, ttl_s=0)
    await off.get(uid)
    await off.get(uid)
    assert load.calls == 4


async def test_the_cache_stays_bounded() -> None:
    cache = ViewerCache(Loader(), ttl_s=60, max_entries=10)
    for _ in range(35):
        await cache.get(str(uuid.uuid4()))
    assert len(cache._entries) <= 10
