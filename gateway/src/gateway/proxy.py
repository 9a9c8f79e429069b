"""Forwarding one HTTP request to an upstream and streaming its answer back.

Each upstream has its own keep-alive pool (`kit.upstream.HTTPPool`). Raw ASGI header
lists go to the wire as they are; nothing is re-parsed into header objects.

Failures map to problems: connection refused or pool exhausted → 503, timeout → 504,
malformed or cut-off upstream answer → 502, oversize request body → 413.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

from kit.errors import BadGateway, GatewayTimeout, ProblemError, ServiceUnavailable
from kit.upstream import (
    HTTPPool,
    UpstreamError,
    UpstreamResponse,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from starlette.types import Receive, Send

from gateway import metrics
from gateway.headers import RawHeaders, downstream_response_headers
from gateway.routes import Upstream

# Bodies up to this size (declared by Content-Length) are read whole and sent in one go;
# larger or chunked ones are streamed. Responses that small are relayed in one message.
BUFFER_LIMIT = 64 * 1024
_IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS"})


class BodyTooLarge(Exception):
    """The client sent more body bytes than the gateway accepts."""


class ClientDisconnected(Exception):
    """The client went away while its request body was being read."""


@dataclass(frozen=True, slots=True)
class Timeouts:
    """Upstream timeouts in seconds."""

    connect: float
    read: float
    write: float
    pool: float


class UpstreamPool:
    """The connection pool for one upstream."""

    def __init__(
        self,
        upstream: Upstream,
        *,
        timeouts: Timeouts,
        max_connections: int,
        max_keepalive: int,
        keepalive_expiry: float,
    ) -> None:
        if upstream.scheme != "http":
            # TLS to upstreams is the service mesh's job; the gateway speaks plain HTTP.
            raise ValueError(f"upstream {upstream.context}: only http:// upstreams are proxied")
        self.upstream = upstream
        self.pool = HTTPPool(
            upstream.host,
            upstream.port,
            max_connections=max_connections,
            max_idle=max_keepalive,
            idle_timeout=keepalive_expiry,
            connect_timeout=timeouts.connect,
            pool_timeout=timeouts.pool,
        )

    async def aclose(self) -> None:
        await self.pool.aclose()


async def read_body(receive: Receive, limit: int) -> bytes:
    """The whole request body. Raises `BodyTooLarge` past `limit` bytes and
    `ClientDisconnected` if the client leaves first."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnected
        chunk = message.get("body", b"")
        if chunk:
            size += len(chunk)
            if size > limit:
                raise BodyTooLarge
            chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


async def stream_body(receive: Receive, limit: int) -> AsyncIterator[bytes]:
    """The request body as it arrives, counting bytes: raises `BodyTooLarge` past
    `limit` (which aborts the upstream request) and `ClientDisconnected`."""
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnected
        chunk = message.get("body", b"")
        if chunk:
            size += len(chunk)
            if size > limit:
                raise BodyTooLarge
            yield chunk
        if not message.get("more_body", False):
            return


def upstream_problem(exc: Exception, context: str) -> ProblemError:
    """The problem a failed upstream exchange is shown as (and count it)."""
    kind: str
    err: ProblemError
    if isinstance(exc, UpstreamUnavailable):
        kind = "unavailable"
        err = ServiceUnavailable(
            f"The {context} service is unavailable.", headers={"Retry-After": "1"}
        )
    elif isinstance(exc, UpstreamTimeout):
        kind, err = "timeout", GatewayTimeout(f"The {context} service did not answer in time.")
    else:
        kind, err = "protocol", BadGateway(f"The {context} service sent an invalid response.")
    metrics.UPSTREAM_ERRORS.labels(context, kind).inc()
    return err


async def forward(
    pool: UpstreamPool,
    *,
    method: str,
    target: bytes,
    headers: RawHeaders,
    receive: Receive,
    send: Send,
    content_length: int | None,
    chunked: bool,
    max_body: int,
    timeouts: Timeouts,
    request_id: bytes,
    extra_response_headers: RawHeaders,
) -> int:
    """Send the request upstream and relay the answer; returns the status sent.

    Raises `ProblemError` (nothing has been sent to the client then), `BodyTooLarge`
    and `ClientDisconnected`. A failure after the response started propagates as is,
    which makes the server drop the connection so the client sees a truncated answer.
    """
    content: bytes | AsyncIterator[bytes]
    if content_length is not None:
        if content_length > max_body:
            raise BodyTooLarge
        headers.append((b"content-length", b"%d" % content_length))
        if content_length <= BUFFER_LIMIT:
            content = await read_body(receive, max_body) if content_length else b""
        else:
            content = stream_body(receive, max_body)
    elif chunked:
        headers.append((b"transfer-encoding", b"chunked"))
        content = stream_body(receive, max_body)
    else:
        content = b""
    context = pool.upstream.context
    started = time.perf_counter()
    try:
        response = await pool.pool.request(
            method.encode("ascii"),
            target,
            headers,
            body=content,
            chunked=chunked and content_length is None,
            read_timeout=timeouts.read,
            write_timeout=timeouts.write,
            retry_idempotent=method in _IDEMPOTENT,
        )
    except UpstreamError as exc:
        raise upstream_problem(exc, context) from exc
    metrics.observe_upstream(context, time.perf_counter() - started)
    try:
        return await _relay(response, send, context, request_id, extra_response_headers)
    finally:
        response.release()


async def _relay(
    response: UpstreamResponse,
    send: Send,
    context: str,
    request_id: bytes,
    extra_response_headers: RawHeaders,
) -> int:
    out_headers = downstream_response_headers(response.headers, request_id)
    out_headers.extend(extra_response_headers)
    declared = None
    for name, value in out_headers:
        if name == b"content-length":
            declared = int(value) if value.isdigit() else None
            break
    status = response.status
    if declared is not None and declared <= BUFFER_LIMIT:
        try:
            body = await response.read()
        except UpstreamError as exc:
            raise upstream_problem(exc, context) from exc
        await send({"type": "http.response.start", "status": status, "headers": out_headers})
        await send({"type": "http.response.body", "body": body})
        return status
    await send({"type": "http.response.start", "status": status, "headers": out_headers})
    async for chunk in response.chunks():
        await send({"type": "http.response.body", "body": chunk, "more_body": True})
    await send({"type": "http.response.body", "body": b""})
    return status
