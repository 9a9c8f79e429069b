"""Sending `kit.errors.ProblemError`s from raw ASGI code (the proxy path has no framework)."""

from __future__ import annotations

from collections.abc import Iterable

import orjson
from kit.errors import PROBLEM_CONTENT_TYPE, ProblemError
from starlette.types import Send

_CONTENT_TYPE = PROBLEM_CONTENT_TYPE.encode("ascii")


async def send_problem(
    send: Send,
    err: ProblemError,
    *,
    instance: str | None = None,
    headers: Iterable[tuple[bytes, bytes]] = (),
) -> None:
    """Answer with `err` as `application/problem+json`, its own headers and `headers`."""
    body = orjson.dumps(err.to_problem(instance), default=str)
    raw = [
        (b"content-type", _CONTENT_TYPE),
        (b"content-length", str(len(body)).encode("ascii")),
    ]
    raw.extend((k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in err.headers.items())
    raw.extend(headers)
    await send({"type": "http.response.start", "status": err.status, "headers": raw})
    await send({"type": "http.response.body", "body": body})
