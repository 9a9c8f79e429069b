"""Prometheus view of search statistics (served on ``/metrics`` with the kit's)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

SEARCH_QUERIES = Counter(
    "search_queries_total", "Search queries answered, by collection.", ["collection"]
)
SEARCH_ZERO_RESULTS = Counter(
    "search_zero_result_queries_total",
    "Search queries that found nothing visible to the caller, by collection.",
    ["collection"],
)
SEARCH_LATENCY = Histogram(
    "search_query_duration_seconds",
    "Time to answer a search query (read model + Typesense), by collection.",
    ["collection"],
    buckets=(0.002, 0.005, 0.01, 0.02, 0.03, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
)
SEARCH_STATS_DROPPED = Counter(
    "search_stats_dropped",
    "Query statistics rows dropped because the buffer was full (database unreachable).",
)
REINDEX_RUNS = Counter(
    "search_reindex_total", "Reindex runs, by collection and outcome.", ["collection", "outcome"]
)
