"""Prometheus metrics: HTTP RED by route template, outbox backlog, consumer lag.

Metric objects live in the default registry, once per process; ``/metrics`` serves it.
Unmatched paths are labelled ``<unmatched>`` so scanners cannot blow up cardinality.
"""

from __future__ import annotations

import logging
import time

from fastapi import APIRouter, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kit.tracing import route_template

access_log = logging.getLogger("kit.access")

HTTP_REQUESTS = Counter(
    "http_requests_total",
    "HTTP requests handled, by method, route template and status code.",
    ["method", "route", "status"],
)
HTTP_ERRORS = Counter(
    "http_request_errors_total",
    "HTTP requests answered with a 5xx status.",
    ["method", "route"],
)
HTTP_DURATION = Histogram(
    "http_request_duration_seconds",
    "HTTP request latency until the response completed.",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
HTTP_IN_PROGRESS = Gauge("http_requests_in_progress", "HTTP requests being handled.", ["method"])

OUTBOX_BACKLOG = Gauge("outbox_backlog", "Outbox rows still pending publication.", ["service"])
OUTBOX_PUBLISHED = Counter(
    "outbox_published_total", "Outbox rows published to Kafka.", ["service", "topic"]
)
OUTBOX_PUBLISH_ERRORS = Counter(
    "outbox_publish_errors_total", "Failed attempts to publish outbox rows.", ["service"]
)
CONSUMER_LAG = Gauge(
    "kafka_consumer_lag",
    "Messages between a consumer group's position and the partition end.",
    ["group", "topic", "partition"],
)
CONSUMER_EVENTS = Counter(
    "kafka_consumer_events_total",
    "Events handled by a consumer, by outcome (applied, duplicate, dead_lettered).",
    ["group", "topic", "outcome"],
)

UNMATCHED = "<unmatched>"


class MetricsMiddleware:
    """Counts and times every HTTP request by method, route template and status.

    Also writes one access-log line per request (route template, status, duration).
    """

    def __init__(self, app: ASGIApp, exclude: tuple[str, ...] = ("/metrics",)) -> None:
        self.app = app
        self.exclude = exclude

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("path") in self.exclude:
            await self.app(scope, receive, send)
            return
        method = scope.get("method", "GET")
        status = 500
        start = time.perf_counter()

        async def _send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        HTTP_IN_PROGRESS.labels(method).inc()
        try:
            await self.app(scope, receive, _send)
        finally:
            HTTP_IN_PROGRESS.labels(method).dec()
            elapsed = time.perf_counter() - start
            route = route_template(scope) or UNMATCHED
            HTTP_REQUESTS.labels(method, route, str(status)).inc()
            HTTP_DURATION.labels(method, route).observe(elapsed)
            if status >= 500:
                HTTP_ERRORS.labels(method, route).inc()
            if route not in ("/livez", "/readyz"):
                access_log.info(
                    "%s %s %s",
                    method,
                    route,
                    status,
                    extra={
                        "http_method": method,
                        "http_route": route,
                        "http_status": status,
                        "duration_ms": round(elapsed * 1000, 2),
                    },
                )


def metrics_router(registry: CollectorRegistry = REGISTRY) -> APIRouter:
    """``GET /metrics`` in the Prometheus text format."""
    router = APIRouter()

    @router.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    return router
