"""The FastAPI application every service starts from."""

from __future__ import annotations

import contextlib
import inspect
import re
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

from fastapi import APIRouter, FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kit.db import Database
from kit.errors import install_error_handlers
from kit.health import Check, check_db, check_kafka, check_redis, health_router
from kit.ids import uuid7
from kit.logging import configure_logging, request_id_var
from kit.metrics import MetricsMiddleware, metrics_router
from kit.pagination import configure_cursor_secret
from kit.settings import ServiceSettings
from kit.tracing import TracingMiddleware, setup_tracing

REQUEST_ID_HEADER = "x-request-id"
_REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")

Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[Any]]


class RequestIdMiddleware:
    """Takes a sane incoming ``X-Request-ID`` or makes one; exposes it to logs and echoes it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        incoming = None
        for key, value in scope.get("headers", []):
            if key == b"x-request-id":
                incoming = value.decode("latin-1")
                break
        request_id = incoming if incoming and _REQUEST_ID_RE.match(incoming) else str(uuid7())
        scope.setdefault("state", {})["request_id"] = request_id
        token = request_id_var.set(request_id)

        async def _send(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [
                    (k, v) for k, v in message.get("headers", []) if k.lower() != b"x-request-id"
                ]
                headers.append((b"x-request-id", request_id.encode("latin-1")))
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, _send)
        finally:
            request_id_var.reset(token)


@asynccontextmanager
async def _agen_cm(gen: Any) -> AsyncIterator[Any]:
    state = await gen.__anext__()
    try:
        yield state
    finally:
        with contextlib.suppress(StopAsyncIteration):
            await gen.__anext__()


def default_checks(settings: ServiceSettings, db: Database | None) -> dict[str, Check]:
    """Readiness checks for the service's database (if any), Kafka and Redis."""
    checks: dict[str, Check] = {}
    if db is not None:
        checks["db"] = check_db(db)
    checks["kafka"] = check_kafka(settings.kafka_bootstrap_servers)
    checks["redis"] = check_redis(settings.redis_url)
    return checks


def create_app(
    settings: ServiceSettings,
    *,
    title: str,
    routers: Iterable[APIRouter] = (),
    lifespan: Lifespan | None = None,
    checks: Mapping[str, Check] | None = None,
    with_db: bool = True,
    database: Database | None = None,
    version: str = "0.1.0",
    **fastapi_kwargs: Any,
) -> FastAPI:
    """A FastAPI app wired the platform's way.

    It has: RFC 9457 error handlers; ``X-Request-ID``; a tracing span per request; HTTP
    RED metrics and ``/metrics``; JSON logging; ``/livez`` and ``/readyz`` (``checks``,
    default: database, Kafka, Redis); ``app.state.settings``; and, with ``with_db``,
    ``app.state.db`` (a :class:`Database`, disposed at shutdown) that :data:`kit.db.Session`
    uses. ``lifespan`` runs inside kit's own (the database is open for its whole span).
    """
    configure_logging(settings.log_level, settings.service_name)
    setup_tracing(settings.service_name, settings.otlp_endpoint)
    configure_cursor_secret(settings.cursor_secret)

    db = database if database is not None else (Database(settings) if with_db else None)

    @asynccontextmanager
    async def _lifespan(app: FastAPI) -> AsyncIterator[Any]:
        try:
            if lifespan is None:
                yield None
            else:
                cm: Any = lifespan(app)
                if inspect.isasyncgen(cm):  # an undecorated async generator function
                    cm = _agen_cm(cm)
                async with cm as state:
                    yield state
        finally:
            verifier = getattr(app.state, "token_verifier", None)
            if verifier is not None:
                await verifier.aclose()
            if db is not None:
                await db.dispose()

    # The kit traces and measures requests itself (kit.tracing, kit.metrics); FastAPI's
    # own telemetry would record every request a second time.
    fastapi_kwargs.setdefault("telemetry", {"tracing": False, "metrics": False, "logs": False})
    app = FastAPI(title=title, version=version, lifespan=_lifespan, **fastapi_kwargs)
    app.state.settings = settings
    app.state.db = db

    # Middleware: the last added is the outermost. Order, outside in: tracing,
    # request id, metrics, catch-all 500 (added by install_error_handlers).
    install_error_handlers(app)
    app.add_middleware(MetricsMiddleware)
    app.add_middleware(RequestIdMiddleware)
    app.add_middleware(TracingMiddleware, service_name=settings.service_name)

    app.include_router(
        health_router(
            default_checks(settings, db) if checks is None else checks,
            timeout=settings.readiness_timeout_s,
        )
    )
    app.include_router(metrics_router())
    for router in routers:
        app.include_router(router)
    return app
