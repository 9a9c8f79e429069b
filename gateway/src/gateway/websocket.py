"""WebSocket proxying to the realtime upstream.

The gateway opens the upstream connection first (offering the client's subprotocols and
passing `Authorization`, request id, trace and forwarding headers), accepts the client
with the subprotocol the upstream chose, then relays text and binary frames both ways
until either side closes; the close code and reason are passed on.

If the upstream cannot be reached the client gets a 503 problem when the server supports
the ASGI WebSocket denial-response extension, otherwise the socket is accepted and closed
with 1013 (try again later).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import orjson
from kit.errors import PROBLEM_CONTENT_TYPE, ProblemError, ServiceUnavailable
from starlette.types import Receive, Scope, Send
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

from gateway import metrics

log = logging.getLogger("gateway.websocket")

TRY_AGAIN_LATER = 1013
# Close codes that must not be sent in a close frame (RFC 6455 section 7.4.1).
_RESERVED_CODES = frozenset({1004, 1005, 1006, 1015})

# Client request headers forwarded on the upstream handshake.
FORWARDED_WS_HEADERS = frozenset(
    {b"authorization", b"cookie", b"origin", b"user-agent", b"accept-language"}
)


class DenialLogFilter(logging.Filter):
    """Drops uvicorn's "returned without completing handshake" error for WebSocket
    upgrades the gateway refused with an HTTP response (the ASGI denial extension).

    uvicorn's websockets-sansio protocol logs that line after any denial response even
    though the denial is complete and correct; for the gateway every such handshake is
    a deliberate refusal, so the line is noise.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        return record.getMessage() != "ASGI callable returned without completing handshake."


def install_denial_log_filter() -> None:
    """Attach `DenialLogFilter` to uvicorn's error logger (idempotent)."""
    logger = logging.getLogger("uvicorn.error")
    if not any(isinstance(f, DenialLogFilter) for f in logger.filters):
        logger.addFilter(DenialLogFilter())


def _close_code(code: int | None) -> int:
    if code is None or code in _RESERVED_CODES or not (1000 <= code <= 4999):
        return 1000 if code in (None, 1005) else 1011
    return code


async def deny(scope: Scope, receive: Receive, send: Send, err: ProblemError) -> None:
    """Refuse a WebSocket handshake with `err` as an HTTP problem where the server
    supports it; otherwise accept and close with 1013 (5xx) or 1008 (4xx)."""
    if "websocket.http.response" in scope.get("extensions", {}):
        body = orjson.dumps(err.to_problem())
        headers = [(b"content-type", PROBLEM_CONTENT_TYPE.encode())]
        headers += [(k.lower().encode(), v.encode()) for k, v in err.headers.items()]
        await send(
            {"type": "websocket.http.response.start", "status": err.status, "headers": headers}
        )
        await send({"type": "websocket.http.response.body", "body": body})
        return
    message = await receive()
    if message["type"] != "websocket.connect":
        return
    await send({"type": "websocket.accept"})
    code = TRY_AGAIN_LATER if err.status >= 500 else 1008
    await send({"type": "websocket.close", "code": code, "reason": (err.detail or "")[:120]})


async def proxy_websocket(
    scope: Scope,
    receive: Receive,
    send: Send,
    *,
    url: str,
    headers: list[tuple[str, str]],
    open_timeout: float,
    context: str,
) -> None:
    """Proxy one WebSocket session to `url` (see the module docstring).

    Never raises for upstream or client trouble; the client always gets an answer.
    """
    subprotocols = list(scope.get("subprotocols") or [])
    try:
        upstream = await connect(
            url,
            additional_headers=headers,
            subprotocols=subprotocols or None,
            open_timeout=open_timeout,
            max_size=None,
            compression=None,
            ping_interval=None,
        )
    except InvalidStatus as exc:
        metrics.WEBSOCKETS.labels("rejected").inc()
        status = exc.response.status_code
        detail = f"The {context} service refused the WebSocket upgrade ({status})."
        err = ProblemError(status if 400 <= status < 500 else 502, None, detail)
        await deny(scope, receive, send, err)
        return
    except (OSError, TimeoutError, InvalidHandshake) as exc:
        metrics.WEBSOCKETS.labels("upstream_unavailable").inc()
        log.info("realtime upstream %s unavailable: %r", url, exc)
        err = ServiceUnavailable(
            f"The {context} service is unavailable.", headers={"Retry-After": "1"}
        )
        await deny(scope, receive, send, err)
        return

    message = await receive()
    if message["type"] != "websocket.connect":
        await upstream.close()
        return
    metrics.WEBSOCKETS.labels("proxied").inc()
    accept: dict[str, Any] = {"type": "websocket.accept"}
    if upstream.subprotocol:
        accept["subprotocol"] = upstream.subprotocol
    await send(accept)
    await _relay(upstream, receive, send)


async def _relay(upstream: ClientConnection, receive: Receive, send: Send) -> None:
    client_closed = asyncio.Event()

    async def client_to_upstream() -> None:
        while True:
            message = await receive()
            if message["type"] == "websocket.receive":
                data = message.get("text")
                if data is None:
                    data = message.get("bytes") or b""
                try:
                    await upstream.send(data)
                except ConnectionClosed:
                    return
            elif message["type"] == "websocket.disconnect":
                client_closed.set()
                code = _close_code(message.get("code"))
                await upstream.close(code, message.get("reason") or "")
                return

    async def upstream_to_client() -> None:
        try:
            async for data in upstream:
                if isinstance(data, str):
                    await send({"type": "websocket.send", "text": data})
                else:
                    await send({"type": "websocket.send", "bytes": data})
        except ConnectionClosed:
            pass
        if client_closed.is_set():
            return
        rcvd = upstream.close_code
        reason = upstream.close_reason or ""
        with contextlib.suppress(Exception):
            await send({"type": "websocket.close", "code": _close_code(rcvd), "reason": reason})

    to_up = asyncio.create_task(client_to_upstream())
    to_client = asyncio.create_task(upstream_to_client())
    try:
        done, _ = await asyncio.wait({to_up, to_client}, return_when=asyncio.FIRST_COMPLETED)
        if to_client in done:
            # Upstream finished: the client was told; stop reading from it.
            to_up.cancel()
        else:
            # The client left: the upstream close handshake ends the other task.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(to_client), 5)
        for task in (to_up, to_client):
            if not task.done():
                task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
    finally:
        await upstream.close()
