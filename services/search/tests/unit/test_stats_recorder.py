"""Query statistics buffered off the request path and stored in batches."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from search.stats.metrics import SEARCH_STATS_DROPPED
from search.stats.service import StatsRecorder


class FakePool:
    def __init__(self) -> None:
        self.rows: list[tuple[Any, ...]] = []
        self.fail = False
        self.statements = 0

    async def execute(self, sql: str, *columns: list[Any]) -> None:
        if self.fail:
            raise ConnectionError("database down")
        self.statements += 1
        assert sql.startswith("INSERT INTO search_queries (at, collection, query, found")
        self.rows.extend(zip(*columns, strict=True))


def recorder(pool: FakePool, **kwargs: Any) -> StatsRecorder:
    async def get_pool() -> FakePool:
        return pool

    return StatsRecorder(get_pool, **kwargs)


async def test_rows_wait_in_memory_until_flushed_in_one_statement() -> None:
    pool = FakePool()
    stats = recorder(pool)
    stats.record(collection="posts", query="قهوة", found=3, latency_s=0.0123)
    stats.record(collection="users", query="x" * 900, found=0, latency_s=0.001)
    assert pool.rows == [] and stats.pending == 2
    assert await stats.flush() == 2
    assert pool.statements == 1
    (at, collection, query, found, latency_ms), second = pool.rows
    assert (collection, query, found, latency_ms) == ("posts", "قهوة", 3, 12.3)
    assert at.tzinfo is not None
    assert len(second[2]) == 500  # long queries are cut like before
    assert stats.pending == 0


async def test_a_failed_insert_keeps_its_rows_for_the_next_flush() -> None:
    pool = FakePool()
    stats = recorder(pool)
    stats.record(collection="posts", query="a", found=1, latency_s=0.01)
    pool.fail = True
    with pytest.raises(ConnectionError):
        await stats.flush()
    assert stats.pending == 1
    pool.fail = False
    assert await stats.flush() == 1
    assert [r[2] for r in pool.rows] == ["a"]


async def test_a_full_buffer_drops_the_oldest_rows_and_counts_them() -> None:
    pool = FakePool()
    stats = recorder(pool, max_buffer=3)
    before = SEARCH_STATS_DROPPED._value.get()
    for i in range(5):
        stats.record(collection="posts", query=str(i), found=1, latency_s=0.01)
    assert SEARCH_STATS_DROPPED._value.get() - before == 2
    await stats.flush()
    assert [r[2] for r in pool.rows] == ["2", "3", "4"]


async def test_the_writer_flushes_periodically_and_on_stop() -> None:
    pool = FakePool()
    stats = recorder(pool, interval_s=0.01)
    task = asyncio.create_task(stats.run())
    stats.record(collection="posts", query="a", found=1, latency_s=0.01)
    for _ in range(100):
        if pool.rows:
            break
        await asyncio.sleep(0.01)
    assert len(pool.rows) == 1
    stats.interval_s = 60
    await asyncio.sleep(0.02)
    stats.record(collection="posts", query="b", found=1, latency_s=0.01)
    stats.stop()
    await asyncio.wait_for(task, 5)
    assert [r[2] for r in pool.rows] == ["a", "b"]
