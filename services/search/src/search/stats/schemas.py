"""Search statistics responses."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel


class QueryCount(BaseModel):
    query: str
    count: int


class LatencySummary(BaseModel):
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    max_ms: float | None


class CollectionStats(BaseModel):
    collection: str
    queries: int
    zero_result_queries: int


class SearchStats(BaseModel):
    since: datetime
    queries: int
    zero_result_queries: int
    zero_result_rate: float
    latency: LatencySummary
    by_collection: list[CollectionStats]
    top_queries: list[QueryCount]
    top_zero_result_queries: list[QueryCount]
