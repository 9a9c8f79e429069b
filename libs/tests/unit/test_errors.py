import logging

import httpx
import pytest
from fastapi import FastAPI, HTTPException
from kit.errors import (
    BadGateway,
    Conflict,
    NotFound,
    ProblemError,
    TooManyRequests,
    install_error_handlers,
    problem_for_exception,
)
from pydantic import BaseModel, Field


class Item(BaseModel):
    name: str = Field(min_length=1)
    count: int


def make_app() -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/missing")
    async def missing() -> None:
        raise NotFound("No such thing.")

    @app.get("/teapot")
    async def teapot() -> None:
        raise ProblemError(
            418, "Teapot", "Short and stout.", "https://example.test/teapot", hint="x"
        )

    @app.get("/limited")
    async def limited() -> None:
        raise TooManyRequests(retry_after=12.2)

    @app.get("/upstream")
    async def upstream() -> None:
        raise BadGateway("identity did not answer.")

    @app.get("/http")
    async def http() -> None:
        raise HTTPException(status_code=403, detail="nope")

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("password=hunter2 in the database dsn")

    @app.post("/items")
    async def create(item: Item) -> Item:
        return item

    @app.get("/redis-down")
    async def redis_down() -> None:
        from redis.exceptions import ConnectionError as RedisConnectionError

        raise RedisConnectionError("Error 111 connecting to 127.0.0.1:6379.")

    return app


@pytest.fixture
def client() -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=make_app(), raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url="http://test")


async def test_problem_error_renders_rfc9457_body(client: httpx.AsyncClient) -> None:
    r = await client.get("/missing")
    assert r.status_code == 404
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json() == {
        "type": "about:blank",
        "title": "Not Found",
        "status": 404,
        "detail": "No such thing.",
        "instance": "/missing",
    }


async def test_problem_error_keeps_type_title_and_extension_members(
    client: httpx.AsyncClient,
) -> None:
    body = (await client.get("/teapot")).json()
    assert body["status"] == 418
    assert body["type"] == "https://example.test/teapot"
    assert body["title"] == "Teapot"
    assert body["hint"] == "x"


async def test_too_many_requests_sets_retry_after_rounded_up(client: httpx.AsyncClient) -> None:
    r = await client.get("/limited")
    assert r.status_code == 429
    assert r.headers["retry-after"] == "13"
    assert r.json()["retry_after"] == 13


async def test_upstream_failure_is_502_problem(client: httpx.AsyncClient) -> None:
    r = await client.get("/upstream")
    assert r.status_code == 502
    assert r.json()["detail"] == "identity did not answer."


async def test_validation_error_is_422_with_per_field_errors(client: httpx.AsyncClient) -> None:
    r = await client.post("/items", json={"name": "", "count": "many"})
    assert r.status_code == 422
    assert r.headers["content-type"] == "application/problem+json"
    errors = {e["field"]: e for e in r.json()["errors"]}
    assert set(errors) == {"name", "count"}
    assert errors["count"]["pointer"] == "/count"
    assert errors["name"]["location"] == "body"


async def test_malformed_json_is_400_not_422(client: httpx.AsyncClient) -> None:
    r = await client.post(
        "/items", content=b'{"name": "x", ', headers={"content-type": "application/json"}
    )
    assert r.status_code == 400
    assert r.json()["title"] == "Malformed JSON"


async def test_unknown_route_and_http_exception_are_problems(client: httpx.AsyncClient) -> None:
    r = await client.get("/nowhere")
    assert r.status_code == 404
    assert r.headers["content-type"] == "application/problem+json"
    r = await client.get("/http")
    assert r.status_code == 403
    assert r.json()["detail"] == "nope"


async def test_unhandled_exception_is_generic_500_and_logged(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="kit.errors"):
        r = await client.get("/boom")
    assert r.status_code == 500
    assert r.headers["content-type"] == "application/problem+json"
    assert "hunter2" not in r.text
    assert r.json()["detail"] == "An unexpected error occurred."
    assert any("hunter2" in (rec.exc_text or str(rec.exc_info)) for rec in caplog.records)


def test_unique_violation_maps_to_conflict() -> None:
    from sqlalchemy.exc import IntegrityError

    class Orig(Exception):
        sqlstate = "23505"

    problem = problem_for_exception(IntegrityError("INSERT ...", {}, Orig("dup key")))
    assert isinstance(problem, Conflict)
    assert "INSERT" not in (problem.detail or "")


async def test_an_unreachable_backing_service_is_a_503_with_retry_after(
    client: httpx.AsyncClient,
) -> None:
    resp = await client.get("/redis-down")
    assert resp.status_code == 503
    assert resp.headers["content-type"].startswith("application/problem+json")
    assert resp.headers["retry-after"] == "5"
    assert "6379" not in resp.text  # no infrastructure detail leaks


@pytest.mark.parametrize(
    "exc",
    [
        ConnectionRefusedError(111, "refused"),
        TimeoutError(),
    ],
)
def test_connection_failures_map_to_service_unavailable(exc: Exception) -> None:
    assert problem_for_exception(exc).status == 503


def test_a_database_outage_maps_to_service_unavailable() -> None:
    from sqlalchemy.exc import OperationalError

    problem = problem_for_exception(OperationalError("SELECT 1", {}, OSError("gone")))
    assert problem.status == 503
