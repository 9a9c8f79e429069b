"""Queries on ``search_queries``."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession


async def insert_queries(pool: Any, rows: Sequence[tuple[datetime, str, str, int, float]]) -> None:
    """Store answered queries ``(at, collection, query, found, latency_ms)`` in one
    statement on an asyncpg pool (autocommit)."""
    if not rows:
        return
    ats, collections, queries, founds, latencies = (list(col) for col in zip(*rows, strict=True))
    await pool.execute(
        "INSERT INTO search_queries (at, collection, query, found, latency_ms) "
        "SELECT * FROM unnest($1::timestamptz[], $2::text[], $3::text[], $4::int[], "
        "$5::float8[])",
        ats,
        collections,
        queries,
        founds,
        latencies,
    )


async def totals(session: AsyncSession, since: datetime) -> dict[str, Any]:
    row = (
        await session.execute(
            text(
                "SELECT count(*), count(*) FILTER (WHERE found = 0), "
                "percentile_cont(0.5) WITHIN GROUP (ORDER BY latency_ms), "
                "percentile_cont(0.95) WITHIN GROUP (ORDER BY latency_ms), "
                "percentile_cont(0.99) WITHIN GROUP (ORDER BY latency_ms), max(latency_ms) "
                "FROM search_queries WHERE at >= :since"
            ),
            {"since": since},
        )
    ).one()
    return {
        "queries": int(row[0]),
        "zero": int(row[1]),
        "p50": row[2],
        "p95": row[3],
        "p99": row[4],
        "max": row[5],
    }


async def by_collection(session: AsyncSession, since: datetime) -> list[tuple[str, int, int]]:
    rows = await session.execute(
        text(
            "SELECT collection, count(*), count(*) FILTER (WHERE found = 0) "
            "FROM search_queries WHERE at >= :since GROUP BY collection ORDER BY collection"
        ),
        {"since": since},
    )
    return [(str(r[0]), int(r[1]), int(r[2])) for r in rows]


async def top_queries(
    session: AsyncSession, since: datetime, *, zero_only: bool, limit: int
) -> list[tuple[str, int]]:
    rows = await session.execute(
        text(
            "SELECT query, count(*) AS n FROM search_queries "
            "WHERE at >= :since AND query <> '' AND (NOT :zero OR found = 0) "
            "GROUP BY query ORDER BY n DESC, query LIMIT :limit"
        ),
        {"since": since, "limit": limit, "zero": zero_only},
    )
    return [(str(r[0]), int(r[1])) for r in rows]


async def prune(session: AsyncSession, before: datetime) -> int:
    result = await session.execute(
        text("DELETE FROM search_queries WHERE at < :before"), {"before": before}
    )
    return int(getattr(result, "rowcount", 0) or 0)
