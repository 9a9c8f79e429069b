"""Liveness and readiness.

``/livez`` answers 200 while the process serves requests. ``/readyz`` runs every named
check concurrently, each under a timeout, and answers 200 when all pass or 503 listing
which failed. A check is an async callable that raises on failure.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

Check = Callable[[], Awaitable[Any]]


def check_db(db: Any) -> Check:
    """``SELECT 1`` on the service's database (``kit.db.Database``)."""

    async def check() -> None:
        await db.ping()

    return check


def check_kafka(bootstrap_servers: str) -> Check:
    """A metadata round trip with the Kafka cluster."""

    async def check() -> None:
        from aiokafka.client import AIOKafkaClient

        client = AIOKafkaClient(bootstrap_servers=bootstrap_servers, request_timeout_ms=5000)
        try:
            await client.bootstrap()
        finally:
            await client.close()

    return check


def check_redis(url: str) -> Check:
    """``PING`` on Redis (one client kept for the process)."""
    state: dict[str, Any] = {}

    async def check() -> None:
        import redis.asyncio as redis

        client = state.get("client")
        if client is None:
            client = redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
            state["client"] = client
        await client.ping()

    return check


async def run_checks(
    checks: Mapping[str, Check], per_check_s: float
) -> tuple[bool, dict[str, str]]:
    """Run ``checks`` concurrently; returns (all passed, name → ``ok`` or the failure)."""

    async def one(check: Check) -> str:
        try:
            await asyncio.wait_for(check(), per_check_s)
        except TimeoutError:
            return f"timeout after {per_check_s:g}s"
        except Exception as exc:
            return f"error: {type(exc).__name__}"
        return "ok"

    names = list(checks)
    results = await asyncio.gather(*(one(checks[n]) for n in names))
    report = dict(zip(names, results, strict=True))
    return all(r == "ok" for r in results), report


def health_router(checks: Mapping[str, Check] | None = None, timeout: float = 2.0) -> APIRouter:
    """A router with ``GET /livez`` and ``GET /readyz`` (not in the OpenAPI schema)."""
    router = APIRouter()
    named = dict(checks or {})

    @router.get("/livez", include_in_schema=False)
    async def livez() -> dict[str, str]:
        return {"status": "ok"}

    @router.get("/readyz", include_in_schema=False)
    async def readyz() -> JSONResponse:
        ok, report = await run_checks(named, timeout)
        return JSONResponse(
            {"status": "ok" if ok else "unavailable", "checks": report},
            status_code=200 if ok else 503,
        )

    return router
