import asyncio
import json
import logging
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import APIRouter
from kit.app import create_app
from kit.errors import NotFound
from kit.health import Check
from kit.logging import JsonFormatter
from kit.settings import ServiceSettings
from opentelemetry import trace

router = APIRouter()


@router.get("/v1/things/{thing_id}")
async def get_thing(thing_id: int) -> dict[str, object]:
    if thing_id == 0:
        raise NotFound("No such thing.")
    span = trace.get_current_span().get_span_context()
    return {"id": thing_id, "trace_id": format(span.trace_id, "032x")}


async def ok() -> None:
    return None


async def broken() -> None:
    raise ConnectionRefusedError("down")


async def slow() -> None:
    await asyncio.sleep(5)


def client_for(checks: dict[str, Check]) -> httpx.AsyncClient:
    settings = ServiceSettings(service_name="demo", readiness_timeout_s=0.2)
    app = create_app(settings, title="demo", routers=[router], with_db=False, checks=checks)
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, raise_app_exceptions=False), base_url="http://t"
    )


async def test_livez_and_readyz_all_ok() -> None:
    async with client_for(checks={"a": ok}) as c:
        assert (await c.get("/livez")).status_code == 200
        r = await c.get("/readyz")
    assert r.status_code == 200
    assert r.json() == {"status": "ok", "checks": {"a": "ok"}}


async def test_readyz_reports_failing_and_slow_checks_as_503() -> None:
    async with client_for(checks={"a": ok, "b": broken, "c": slow}) as c:
        r = await c.get("/readyz")
    assert r.status_code == 503
    checks = r.json()["checks"]
    assert checks["a"] == "ok"
    assert checks["b"] == "error: ConnectionRefusedError"
    assert checks["c"].startswith("timeout")


async def test_metrics_are_labelled_by_route_template() -> None:
    async with client_for(checks={}) as c:
        await c.get("/v1/things/41")
        await c.get("/v1/things/0")
        await c.get("/random/scanner/path")
        body = (await c.get("/metrics")).text
    assert 'route="/v1/things/{thing_id}",status="200"' in body
    assert 'route="/v1/things/{thing_id}",status="404"' in body
    assert 'route="<unmatched>",status="404"' in body
    assert "/v1/things/41" not in body


async def test_request_id_is_echoed_or_generated() -> None:
    async with client_for(checks={}) as c:
        r = await c.get("/v1/things/1", headers={"X-Request-ID": "req-123"})
        assert r.headers["x-request-id"] == "req-123"
        r = await c.get("/v1/things/1", headers={"X-Request-ID": "bad id\nwith newline"})
        assert r.headers["x-request-id"] != "bad id\nwith newline"
        assert len(r.headers["x-request-id"]) == 36


async def test_incoming_traceparent_is_continued() -> None:
    trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
    async with client_for(checks={}) as c:
        r = await c.get(
            "/v1/things/2", headers={"traceparent": f"00-{trace_id}-00f067aa0ba902b7-01"}
        )
    assert r.json()["trace_id"] == trace_id


async def test_errors_are_problem_json_through_the_full_stack() -> None:
    async with client_for(checks={}) as c:
        r = await c.get("/v1/things/not-an-int")
    assert r.status_code == 422
    assert r.headers["content-type"] == "application/problem+json"


def test_json_log_line_carries_request_and_trace_ids() -> None:
    from kit.logging import request_id_var

    token = request_id_var.set("rid-1")
    tracer = trace.get_tracer("test")
    try:
        with tracer.start_as_current_span("s") as span:
            record = logging.LogRecord("x", logging.INFO, __file__, 1, "hello %s", ("w",), None)
            record.user_id = "u1"
            line = json.loads(JsonFormatter("demo").format(record))
            expected_trace = format(span.get_span_context().trace_id, "032x")
    finally:
        request_id_var.reset(token)
    assert line["msg"] == "hello w"
    assert line["service"] == "demo"
    assert line["request_id"] == "rid-1"
    assert line["trace_id"] == expected_trace
    assert line["user_id"] == "u1"


@pytest.fixture(autouse=True)
def _tracing() -> None:
    from kit.tracing import setup_tracing

    setup_tracing("test")


async def test_service_lifespan_runs_inside_kit_lifespan() -> None:
    from contextlib import asynccontextmanager

    calls: list[str] = []

    @asynccontextmanager
    async def decorated(app: object) -> AsyncIterator[None]:
        calls.append("start")
        yield
        calls.append("stop")

    async def plain(app: object) -> AsyncIterator[None]:
        calls.append("plain-start")
        yield
        calls.append("plain-stop")

    for lifespan in (decorated, plain):
        app = create_app(
            ServiceSettings(service_name="demo"),
            title="demo",
            with_db=False,
            checks={},
            lifespan=lifespan,
        )
        async with app.router.lifespan_context(app):
            calls.append("serving")
    assert calls == ["start", "serving", "stop", "plain-start", "serving", "plain-stop"]
