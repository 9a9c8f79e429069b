"""Recording and summarising search statistics.

Answered queries are counted in Prometheus at once and stored in ``search_queries`` by
:class:`StatsRecorder`, off the request path, in batches.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from search.stats import repository as repo
from search.stats.metrics import (
    SEARCH_LATENCY,
    SEARCH_QUERIES,
    SEARCH_STATS_DROPPED,
    SEARCH_ZERO_RESULTS,
)
from search.stats.schemas import (
    CollectionStats,
    LatencySummary,
    QueryCount,
    SearchStats,
)

log = logging.getLogger("search.stats")

Row = tuple[datetime, str, str, int, float]


class StatsRecorder:
    """Buffers one row per answered query and inserts the buffer every ``interval_s``.

    Why: an INSERT in the request's transaction cost every search a database round trip
    and a commit before its response could leave. Statistics are advisory (top queries,
    zero-result rate, latency percentiles), not business state, so they trade a little
    durability for that: rows recorded in the last ``interval_s`` seconds are lost if
    the process dies without shutting down (a clean shutdown flushes them), and while
    the database is unreachable at most ``max_buffer`` rows wait — beyond that the
    oldest are dropped and counted in ``search_stats_dropped_total``. A failed insert
    keeps its rows for the next attempt. Each row carries the time its query was
    answered, not the time it was inserted. :meth:`flush` is what the stats endpoint
    calls first, so an admin sees every query this process answered.
    """

    def __init__(
        self,
        pool: Callable[[], Awaitable[Any]],
        *,
        interval_s: float = 1.0,
        batch_size: int = 1000,
        max_buffer: int = 20_000,
    ) -> None:
        self._pool = pool
        self.interval_s = interval_s
        self.batch_size = batch_size
        self._rows: deque[Row] = deque()
        self.max_buffer = max_buffer
        self._lock = asyncio.Lock()
        self._stop = asyncio.Event()

    def record(self, *, collection: str, query: str, found: int, latency_s: float) -> None:
        """Count one answered query (Prometheus now, the table at the next flush)."""
        SEARCH_QUERIES.labels(collection).inc()
        SEARCH_LATENCY.labels(collection).observe(latency_s)
        if found == 0:
            SEARCH_ZERO_RESULTS.labels(collection).inc()
        if len(self._rows) >= self.max_buffer:
            self._rows.popleft()
            SEARCH_STATS_DROPPED.inc()
        self._rows.append(
            (datetime.now(UTC), collection, query[:500], found, round(latency_s * 1000, 3))
        )

    @property
    def pending(self) -> int:
        return len(self._rows)

    async def flush(self) -> int:
        """Insert every buffered row; how many went in. Raises if the insert fails (the
        rows stay buffered)."""
        inserted = 0
        async with self._lock:
            while self._rows:
                batch = [self._rows.popleft() for _ in range(min(self.batch_size, len(self._rows)))]
                try:
                    await repo.insert_queries(await self._pool(), batch)
                except BaseException:
                    room = max(0, self.max_buffer - len(self._rows))
                    kept = batch[len(batch) - room :] if room else []
                    SEARCH_STATS_DROPPED.inc(len(batch) - len(kept))
                    self._rows.extendleft(reversed(kept))
                    raise
                inserted += len(batch)
        return inserted

    async def run(self) -> None:
        """Flush every ``interval_s`` until :meth:`stop`; then flush what is left."""
        while not self._stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), self.interval_s)
            if not self._rows:
                continue
            try:
                await self.flush()
            except Exception:
                log.warning("storing search statistics failed; retrying", exc_info=True)
        with contextlib.suppress(Exception):
            await self.flush()

    def stop(self) -> None:
        self._stop.set()


def _ms(value: float | None) -> float | None:
    return None if value is None else round(float(value), 3)


async def summary(session: AsyncSession, *, hours: int, top: int) -> SearchStats:
    """Statistics of the queries answered in the last ``hours`` hours."""
    since = datetime.now(UTC) - timedelta(hours=hours)
    totals = await repo.totals(session, since)
    queries = totals["queries"]
    return SearchStats(
        since=since,
        queries=queries,
        zero_result_queries=totals["zero"],
        zero_result_rate=round(totals["zero"] / queries, 4) if queries else 0.0,
        latency=LatencySummary(
            p50_ms=_ms(totals["p50"]),
            p95_ms=_ms(totals["p95"]),
            p99_ms=_ms(totals["p99"]),
            max_ms=_ms(totals["max"]),
        ),
        by_collection=[
            CollectionStats(collection=c, queries=n, zero_result_queries=z)
            for c, n, z in await repo.by_collection(session, since)
        ],
        top_queries=[
            QueryCount(query=q, count=n)
            for q, n in await repo.top_queries(session, since, zero_only=False, limit=top)
        ],
        top_zero_result_queries=[
            QueryCount(query=q, count=n)
            for q, n in await repo.top_queries(session, since, zero_only=True, limit=top)
        ],
    )


async def prune(session: AsyncSession, *, retention_days: int) -> int:
    """Delete statistics older than ``retention_days``; how many rows went."""
    return await repo.prune(session, datetime.now(UTC) - timedelta(days=retention_days))
