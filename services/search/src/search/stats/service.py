"""Recording and summarising search statistics."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from search.stats import repository as repo
from search.stats.metrics import SEARCH_LATENCY, SEARCH_QUERIES, SEARCH_ZERO_RESULTS
from search.stats.schemas import (
    CollectionStats,
    LatencySummary,
    QueryCount,
    SearchStats,
)


async def record_query(
    session: AsyncSession, *, collection: str, query: str, found: int, latency_s: float
) -> None:
    """Count one answered query in Prometheus and store it (in the caller's transaction)."""
    SEARCH_QUERIES.labels(collection).inc()
    SEARCH_LATENCY.labels(collection).observe(latency_s)
    if found == 0:
        SEARCH_ZERO_RESULTS.labels(collection).inc()
    await repo.insert_query(
        session,
        collection=collection,
        query=query,
        found=found,
        latency_ms=round(latency_s * 1000, 3),
    )


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
