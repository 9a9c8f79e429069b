"""OpenTelemetry: one trace from an HTTP request through the outbox, Kafka and a consumer.

:func:`setup_tracing` installs the SDK tracer provider once per process (exporting over
OTLP/HTTP only when an endpoint is configured). The W3C ``traceparent`` travels in HTTP
headers, in the outbox row (captured at record time) and in the Kafka message headers.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ALWAYS_ON, ParentBased
from opentelemetry.trace import SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("kit.tracing")

_propagator = TraceContextTextMapPropagator()
_configured: dict[str, Any] = {}

HeaderInput = Mapping[str, str] | Iterable[tuple[str, bytes | str | None]] | None


def setup_tracing(service_name: str, otlp_endpoint: str | None = None) -> None:
    """Install the SDK tracer provider (idempotent; the first call in a process wins)."""
    if _configured.get("provider") is not None:
        return
    current = trace.get_tracer_provider()
    if isinstance(current, TracerProvider):
        _configured["provider"] = current
        return
    # Without an exporter nobody reads spans: keep ids and propagation (trace ids in
    # logs, traceparent across Kafka) but record nothing, which costs a fraction.
    sampler = ParentBased(ALWAYS_ON) if otlp_endpoint else ALWAYS_OFF
    provider = TracerProvider(
        resource=Resource.create({"service.name": service_name}), sampler=sampler
    )
    if otlp_endpoint:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        endpoint = otlp_endpoint.rstrip("/")
        if not endpoint.endswith("/v1/traces"):
            endpoint += "/v1/traces"
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint)))
    trace.set_tracer_provider(provider)
    _configured["provider"] = provider


def get_tracer(name: str = "kit") -> trace.Tracer:
    return trace.get_tracer(name)


def inject_traceparent(ctx: Context | None = None) -> str | None:
    """The W3C ``traceparent`` of the current (or given) context; None without a valid span."""
    carrier: dict[str, str] = {}
    _propagator.inject(carrier, context=ctx)
    return carrier.get("traceparent")


def _as_text_mapping(headers: HeaderInput) -> dict[str, str]:
    if headers is None:
        return {}
    if isinstance(headers, Mapping):
        return {str(k).lower(): str(v) for k, v in headers.items()}
    out: dict[str, str] = {}
    for key, value in headers:
        if value is None:
            continue
        out[key.lower()] = value.decode("latin-1") if isinstance(value, bytes) else value
    return out


def extract_context(headers: HeaderInput) -> Context:
    """A context whose parent is the ``traceparent`` in ``headers`` (a mapping or Kafka pairs)."""
    return _propagator.extract(_as_text_mapping(headers))


def context_from_traceparent(traceparent: str | None) -> Context:
    return extract_context({"traceparent": traceparent} if traceparent else None)


class TracingMiddleware:
    """A SERVER span per HTTP request, continuing an incoming ``traceparent``.

    The span is renamed ``METHOD /route/{template}`` once routing has matched.
    """

    def __init__(self, app: ASGIApp, service_name: str = "service") -> None:
        self.app = app
        self.tracer = get_tracer("kit.http")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = [(k.decode("latin-1"), v) for k, v in scope.get("headers", [])]
        parent = extract_context(headers)
        method = scope.get("method", "GET")
        status_holder = {"status": 500}

        async def _send(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_holder["status"] = message["status"]
            await send(message)

        with self.tracer.start_as_current_span(
            method, context=parent, kind=SpanKind.SERVER, start_time=time.time_ns()
        ) as span:
            span.set_attribute("http.request.method", method)
            span.set_attribute("url.path", scope.get("path", ""))
            try:
                await self.app(scope, receive, _send)
            except Exception as exc:
                span.record_exception(exc)
                span.set_status(Status(StatusCode.ERROR))
                raise
            finally:
                route = route_template(scope)
                if route:
                    span.update_name(f"{method} {route}")
                    span.set_attribute("http.route", route)
                span.set_attribute("http.response.status_code", status_holder["status"])
                if status_holder["status"] >= 500:
                    span.set_status(Status(StatusCode.ERROR))


def route_template(scope: Scope) -> str | None:
    """The matched route's path template (``/v1/users/{user_id}``), or None if unmatched."""
    route = scope.get("route")
    path = getattr(route, "path_format", None) or getattr(route, "path", None)
    if path is None:
        return None
    root = scope.get("root_path", "") or ""
    return f"{root}{path}" if root and not path.startswith(root) else path


def attach(ctx: Context) -> object:
    """Make ``ctx`` current; pass the token to :func:`detach`."""
    return otel_context.attach(ctx)


def detach(token: object) -> None:
    otel_context.detach(token)  # type: ignore[arg-type]
