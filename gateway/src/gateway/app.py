"""The gateway ASGI application.

`/v1/<context>/...` (HTTP and WebSocket) is handled by a plain ASGI path with no
framework in between; everything else (`/livez`, `/readyz`, `/metrics`, `/openapi.json`,
`/docs`, and the 404 problem for unknown paths) is a small FastAPI app.

Per proxied HTTP request, in order: request id, route lookup (404 for unknown contexts
and `/internal`), declared size check (413), bearer-token pre-check (401), rate limit
(429, one Redis call), then the upstream exchange (502/503/504 on failure).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import quote

import httpx
from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse
from kit.app import RequestIdMiddleware
from kit.auth import TokenVerifier
from kit.errors import (
    BadRequest,
    NotFound,
    PayloadTooLarge,
    ProblemError,
    TooManyRequests,
    install_error_handlers,
)
from kit.health import run_checks
from kit.logging import request_id_var
from kit.metrics import MetricsMiddleware, metrics_router
from kit.tracing import context_from_traceparent, get_tracer, inject_traceparent, setup_tracing
from opentelemetry import trace
from opentelemetry.trace import SpanKind
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

from gateway import metrics
from gateway.auth import TokenChecker, bearer_token
from gateway.headers import (
    TrustedProxies,
    child_traceparent,
    request_id_for,
    upstream_request_headers,
)
from gateway.openapi import OpenAPICache
from gateway.problems import send_problem
from gateway.proxy import BodyTooLarge, ClientDisconnected, Timeouts, UpstreamPool, forward
from gateway.ratelimit import Limit, RateLimiter
from gateway.redis_pipe import RedisPipe
from gateway.routes import Match, RouteTable
from gateway.settings import GatewaySettings
from gateway.websocket import (
    FORWARDED_WS_HEADERS,
    deny,
    install_denial_log_filter,
    proxy_websocket,
)

log = logging.getLogger("gateway")

Verify = Callable[[str], Awaitable[Any]]
_NO_CONTEXT = "<none>"
_EXPOSED_HEADERS = [
    "X-Request-ID",
    "Retry-After",
    "RateLimit-Limit",
    "RateLimit-Remaining",
    "RateLimit-Reset",
]


class Gateway:
    """The gateway as an ASGI callable (lifespan, HTTP and WebSocket).

    `routes` defaults to `settings.routes_file`; `verify` (token → principal) defaults to
    `kit.auth.TokenVerifier` against `settings.jwks_url`. Upstream pools, the Redis
    client and the token verifier are created at lifespan start-up and closed at shutdown.
    """

    def __init__(
        self,
        settings: GatewaySettings,
        routes: RouteTable | None = None,
        *,
        verify: Verify | None = None,
    ) -> None:
        self.settings = settings
        self.routes = routes if routes is not None else RouteTable.load(settings.routes_file)
        self.trusted = TrustedProxies(settings.trusted_proxies)
        self.timeouts = Timeouts(
            connect=settings.upstream_connect_timeout_s,
            read=settings.upstream_read_timeout_s,
            write=settings.upstream_write_timeout_s,
            pool=settings.upstream_pool_timeout_s,
        )
        self.max_body = settings.max_body_bytes
        self._verify_override = verify
        self.pools: dict[str, UpstreamPool] = {}
        self.http: httpx.AsyncClient | None = None
        self.redis: RedisPipe | None = None
        self.limiter: RateLimiter | None = None
        self.tokens: TokenChecker | None = None
        self._verifier: TokenVerifier | None = None
        self.openapi: OpenAPICache | None = None
        self.tracer = get_tracer("gateway") if settings.otlp_endpoint else None
        self.admin = self._admin_app()

    # -- lifespan -----------------------------------------------------------------

    async def startup(self) -> None:
        """Open upstream pools, the shared HTTP client, Redis and the token verifier."""
        s = self.settings
        install_denial_log_filter()
        if s.otlp_endpoint:
            setup_tracing(s.service_name, s.otlp_endpoint)
        for context, upstream in self.routes.upstreams.items():
            self.pools[context] = UpstreamPool(
                upstream,
                timeouts=self.timeouts,
                max_connections=s.upstream_max_connections,
                max_keepalive=s.upstream_max_keepalive,
                keepalive_expiry=s.upstream_keepalive_expiry_s,
            )
        self.http = httpx.AsyncClient(
            timeout=httpx.Timeout(s.openapi_fetch_timeout_s, connect=s.upstream_connect_timeout_s),
            limits=httpx.Limits(max_connections=20, max_keepalive_connections=10),
        )
        if s.rate_limit_enabled:
            self.redis = RedisPipe(s.redis_url, timeout_s=s.redis_timeout_s)
            self.limiter = RateLimiter(
                self.redis,
                ip_limit=Limit(s.rate_limit_ip_rate, s.rate_limit_ip_burst),
                user_limit=Limit(s.rate_limit_user_rate, s.rate_limit_user_burst),
                key_prefix=s.rate_limit_key_prefix,
                on_fail_open=metrics.RATE_LIMIT_FAIL_OPEN.inc,
            )
        if self._verify_override is not None:
            verify = self._verify_override
        else:
            self._verifier = TokenVerifier.from_settings(s, client=self.http)
            verify = self._verifier.verify_access_token
        self.tokens = TokenChecker(verify, max_entries=s.jwt_cache_size)
        self.openapi = OpenAPICache(
            {c: self._fetch_openapi for c, u in self.routes.upstreams.items() if u.openapi},
            ttl_s=s.openapi_cache_ttl_s,
            timeout_s=s.openapi_fetch_timeout_s,
        )
        log.info("gateway routing %s", ", ".join(sorted(self.routes.upstreams)) or "nothing")

    async def shutdown(self) -> None:
        """Close everything `startup` opened; safe to call twice."""
        for pool in self.pools.values():
            await pool.aclose()
        self.pools = {}
        if self.http is not None:
            await self.http.aclose()
            self.http = None
        if self.redis is not None:
            await self.redis.aclose()
            self.redis = None

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await self.startup()
                except Exception as exc:
                    log.exception("gateway start-up failed")
                    await send({"type": "lifespan.startup.failed", "message": repr(exc)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.shutdown()
                await send({"type": "lifespan.shutdown.complete"})
                return

    # -- ASGI entry ---------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            if scope["path"].startswith("/v1/"):
                await self._proxy_http(scope, receive, send)
            else:
                await self.admin(scope, receive, send)
        elif kind == "websocket":
            await self._proxy_websocket(scope, receive, send)
        elif kind == "lifespan":
            await self._lifespan(receive, send)

    # -- HTTP proxy -----------------------------------------------------------------

    @staticmethod
    def _target(scope: Scope, match: Match) -> bytes:
        # Forward the client's own encoding of the path where possible (%2F stays %2F).
        context = match.upstream.context
        raw = scope.get("raw_path")
        prefix = b"/v1/" + context.encode("ascii")
        if raw and raw.startswith(prefix) and raw[len(prefix) : len(prefix) + 1] in (b"/", b""):
            rest = raw[len(prefix) :] or b"/"
            path = match.upstream.base_path.encode("ascii") + rest
        else:
            path = quote(match.path, safe="/:@!$&'()*+,;=-._~").encode("ascii")
        query = scope.get("query_string")
        return path + b"?" + query if query else path

    async def _proxy_http(self, scope: Scope, receive: Receive, send: Send) -> None:
        request_id_in = authorization = content_length = transfer_encoding = None
        forwarded_for = traceparent_in = None
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                request_id_in = value
            elif name == b"authorization":
                authorization = value
            elif name == b"content-length":
                content_length = value
            elif name == b"transfer-encoding":
                transfer_encoding = value
            elif name == b"x-forwarded-for":
                forwarded_for = value if forwarded_for is None else forwarded_for + b", " + value
            elif name == b"traceparent":
                traceparent_in = value
        request_id = request_id_for(request_id_in)
        request_id_var.set(request_id.decode("ascii"))
        rid_headers = [(b"x-request-id", request_id)]
        path: str = scope["path"]

        match = self.routes.resolve(path)
        if match is None:
            parts = self.routes.split(path)
            known = parts is not None and parts[0] in self.routes.upstreams
            context = parts[0] if known and parts else _NO_CONTEXT
            await send_problem(
                send, NotFound("No service answers this path."), instance=path, headers=rid_headers
            )
            metrics.count_request("/v1/{context}", context, 404)
            return
        context = match.upstream.context
        max_body = match.upstream.max_body
        if max_body is None:
            max_body = self.max_body
        status = 500
        span = None
        try:
            length: int | None = None
            if content_length is not None:
                if not content_length.isdigit():
                    raise BadRequest("Content-Length is not a number.")
                length = int(content_length)
                if length > max_body:
                    raise PayloadTooLarge(f"The request body exceeds {max_body} bytes.")
            chunked = transfer_encoding is not None and b"chunked" in transfer_encoding.lower()

            user_id = None
            if authorization is not None:
                token = bearer_token(authorization)
                if token is not None:
                    assert self.tokens is not None
                    user_id = await self.tokens.user_id(token)

            client = scope.get("client")
            peer = client[0] if client else "0.0.0.0"  # noqa: S104 - a label, not a bind
            peer_trusted = self.trusted.is_trusted(peer)
            ip = self.trusted.client_ip(peer, forwarded_for) if peer_trusted else peer
            limit_headers: list[tuple[bytes, bytes]] = []
            if self.limiter is not None:
                decision = await self.limiter.check(ip, user_id)
                if not decision.failed_open:
                    limit_headers = decision.headers()
                if not decision.allowed:
                    metrics.RATE_LIMITED.labels(decision.scope or "ip").inc()
                    err = TooManyRequests(decision.retry_after_s, "Too many requests; slow down.")
                    err.headers.pop("Retry-After", None)  # sent with the RateLimit headers
                    raise _Refused(err, rid_headers + limit_headers)

            if self.tracer is not None:
                span = self.tracer.start_span(
                    f"{scope['method']} /v1/{context}",
                    context=context_from_traceparent(
                        traceparent_in.decode("latin-1") if traceparent_in else None
                    ),
                    kind=SpanKind.SERVER,
                )
                traceparent = (
                    inject_traceparent(trace.set_span_in_context(span)) or ""
                ).encode() or child_traceparent(traceparent_in)
            else:
                traceparent = child_traceparent(traceparent_in)

            headers = upstream_request_headers(
                scope["headers"],
                host_header=match.upstream.host_header,
                peer=peer,
                scheme=scope.get("scheme", "http"),
                request_id=request_id,
                traceparent=traceparent,
                peer_trusted=peer_trusted,
            )
            status = await forward(
                self.pools[context],
                method=scope["method"],
                target=self._target(scope, match),
                headers=headers,
                receive=receive,
                send=send,
                content_length=length,
                chunked=chunked,
                max_body=max_body,
                timeouts=self.timeouts,
                request_id=request_id,
                extra_response_headers=limit_headers,
            )
        except _Refused as refused:
            status = refused.err.status
            await send_problem(send, refused.err, instance=path, headers=refused.headers)
        except ProblemError as err:
            status = err.status
            await send_problem(send, err, instance=path, headers=rid_headers)
        except BodyTooLarge:
            status = 413
            too_large = PayloadTooLarge(f"The request body exceeds {max_body} bytes.")
            await send_problem(send, too_large, instance=path, headers=rid_headers)
        except ClientDisconnected:
            status = 499
        finally:
            if span is not None:
                span.set_attribute("http.response.status_code", status)
                span.end()
        metrics.count_request("/v1/{context}", context, status)

    # -- WebSocket proxy --------------------------------------------------------------

    async def _proxy_websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope["path"]
        match = self.routes.resolve(path)
        if match is None:
            metrics.WEBSOCKETS.labels("rejected").inc()
            await deny(scope, receive, send, NotFound("No service answers this path."))
            return
        request_id_in = authorization = forwarded_for = traceparent_in = None
        forward_headers: list[tuple[str, str]] = []
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                request_id_in = value
            elif name == b"x-forwarded-for":
                forwarded_for = value
            elif name == b"traceparent":
                traceparent_in = value
            if name == b"authorization":
                authorization = value
            if name in FORWARDED_WS_HEADERS:
                forward_headers.append((name.decode("latin-1"), value.decode("latin-1")))
        request_id = request_id_for(request_id_in)
        request_id_var.set(request_id.decode("ascii"))
        client = scope.get("client")
        peer = client[0] if client else "0.0.0.0"  # noqa: S104 - a label, not a bind
        peer_trusted = self.trusted.is_trusted(peer)
        try:
            token = bearer_token(authorization)
            if token is not None:
                assert self.tokens is not None
                await self.tokens.user_id(token)
            if self.limiter is not None:
                ip = self.trusted.client_ip(peer, forwarded_for)
                decision = await self.limiter.check(ip, None)
                if not decision.allowed:
                    metrics.RATE_LIMITED.labels("ip").inc()
                    raise TooManyRequests(decision.retry_after_s, "Too many requests; slow down.")
        except ProblemError as err:
            metrics.WEBSOCKETS.labels("rejected").inc()
            await deny(scope, receive, send, err)
            return
        xff = peer
        if peer_trusted and forwarded_for is not None:
            xff = f"{forwarded_for.decode('latin-1')}, {peer}"
        forward_headers += [
            ("X-Request-ID", request_id.decode("ascii")),
            ("traceparent", child_traceparent(traceparent_in).decode("ascii")),
            ("X-Forwarded-For", xff),
            ("X-Forwarded-Proto", "wss" if scope.get("scheme") == "wss" else "ws"),
        ]
        ws_path = self._target(scope, match).decode("ascii")
        await proxy_websocket(
            scope,
            receive,
            send,
            url=match.upstream.ws_base + ws_path[len(match.upstream.base_path) :],
            headers=forward_headers,
            open_timeout=self.settings.upstream_connect_timeout_s,
            context=match.upstream.context,
        )

    # -- gateway's own endpoints -------------------------------------------------------

    async def _fetch_openapi(self, context: str) -> dict[str, Any]:
        assert self.http is not None
        upstream = self.routes.upstreams[context]
        response = await self.http.get(upstream.http_base + "/openapi.json")
        response.raise_for_status()
        doc = response.json()
        if not isinstance(doc, dict):
            raise ValueError("not a JSON object")
        return doc

    async def readiness(self) -> tuple[bool, dict[str, str]]:
        """Check Redis and every upstream's `/livez`.

        Ready (True) means Redis answers: upstreams come and go independently and the
        gateway keeps serving the others, so they are reported but do not make the
        gateway unready.
        """
        http = self.http

        async def redis_check() -> None:
            if self.redis is None:
                return
            await self.redis.ping()

        def upstream_check(base: str) -> Callable[[], Awaitable[None]]:
            async def check() -> None:
                assert http is not None
                response = await http.get(base + "/livez")
                response.raise_for_status()

            return check

        checks: dict[str, Callable[[], Awaitable[Any]]] = {"redis": redis_check}
        for context, upstream in self.routes.upstreams.items():
            checks[f"upstream:{context}"] = upstream_check(upstream.http_base)
        _, report = await run_checks(checks, self.settings.readiness_timeout_s)
        return report["redis"] == "ok", report

    def _admin_app(self) -> FastAPI:
        app = FastAPI(title="gateway", openapi_url=None, docs_url=None, redoc_url=None)
        install_error_handlers(app)
        app.add_middleware(MetricsMiddleware)
        app.add_middleware(RequestIdMiddleware)
        app.include_router(metrics_router())

        @app.get("/livez")
        async def livez() -> dict[str, str]:
            return {"status": "ok"}

        @app.get("/readyz")
        async def readyz() -> JSONResponse:
            ok, report = await self.readiness()
            degraded = ok and any(v != "ok" for v in report.values())
            status = "degraded" if degraded else "ok" if ok else "unavailable"
            return JSONResponse(
                {"status": status, "checks": report}, status_code=200 if ok else 503
            )

        @app.get("/openapi.json")
        async def openapi() -> JSONResponse:
            assert self.openapi is not None
            return JSONResponse(await self.openapi.get())

        @app.get("/docs")
        async def docs() -> HTMLResponse:
            return get_swagger_ui_html(openapi_url="/openapi.json", title="Platform API")

        return app


class _Refused(Exception):
    """A 429 carrying the rate-limit headers to send with it."""

    def __init__(self, err: ProblemError, headers: list[tuple[bytes, bytes]]) -> None:
        self.err = err
        self.headers = headers


def create_app(
    settings: GatewaySettings | None = None,
    routes: RouteTable | None = None,
    *,
    verify: Verify | None = None,
) -> ASGIApp:
    """The gateway app, wrapped in CORS handling when `settings.cors_origins` is set."""
    settings = settings or GatewaySettings()
    gateway = Gateway(settings, routes, verify=verify)
    if not settings.cors_origins:
        return gateway
    return CORSMiddleware(
        gateway,
        allow_origins=settings.cors_origins,
        allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD"],
        allow_headers=["*"],
        allow_credentials=settings.cors_allow_credentials,
        expose_headers=_EXPOSED_HEADERS,
        max_age=settings.cors_max_age_s,
    )
