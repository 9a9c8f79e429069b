"""The gateway's Prometheus metrics (default registry, served at `/metrics`)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

REQUESTS = Counter(
    "gateway_requests_total",
    "Requests answered by the gateway, by route template, context and status code.",
    ["route", "context", "status"],
)
UPSTREAM_LATENCY = Histogram(
    "gateway_upstream_latency_seconds",
    "Time from sending a request upstream until its response headers arrived.",
    ["context"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
UPSTREAM_ERRORS = Counter(
    "gateway_upstream_errors_total",
    "Upstream requests that failed, by context and kind (unavailable, timeout, protocol).",
    ["context", "kind"],
)
RATE_LIMITED = Counter(
    "gateway_rate_limited_total",
    "Requests refused with 429, by the bucket that refused (ip or user).",
    ["scope"],
)
RATE_LIMIT_FAIL_OPEN = Counter(
    "gateway_rate_limit_fail_open_total",
    "Requests let through without a rate-limit check because Redis was unavailable.",
)
WEBSOCKETS = Counter(
    "gateway_websocket_sessions_total",
    "WebSocket upgrades proxied, by outcome (proxied, rejected, upstream_unavailable).",
    ["outcome"],
)

_request_children: dict[tuple[str, str, int], object] = {}
_latency_children: dict[str, object] = {}


def count_request(route: str, context: str, status: int) -> None:
    """Increment `gateway_requests_total`; label children are cached (hot path)."""
    key = (route, context, status)
    child = _request_children.get(key)
    if child is None:
        child = _request_children[key] = REQUESTS.labels(route, context, str(status))
    child.inc()  # type: ignore[attr-defined]


def observe_upstream(context: str, seconds: float) -> None:
    """Record one upstream round trip in `gateway_upstream_latency_seconds`."""
    child = _latency_children.get(context)
    if child is None:
        child = _latency_children[context] = UPSTREAM_LATENCY.labels(context)
    child.observe(seconds)  # type: ignore[attr-defined]
