import httpx
import pytest
from fastapi import APIRouter
from kit.app import create_app
from kit.db import Database, Session, ping_idle_connections
from kit.errors import Conflict
from kit.settings import ServiceSettings
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

pytestmark = pytest.mark.integration

router = APIRouter()


@router.post("/things/{name}", status_code=201)
async def add_thing(name: str, session: Session) -> dict[str, str]:
    await session.execute(text("INSERT INTO things (name) VALUES (:n)"), {"n": name})
    if name.startswith("fail-"):
        raise Conflict("changed my mind")
    return {"name": name}


@router.post("/twice/{name}", status_code=201)
async def add_twice(name: str, session: Session) -> dict[str, str]:
    # The unique constraint is deferred: both inserts succeed, the COMMIT fails.
    await session.execute(text("INSERT INTO things (name) VALUES (:n), (:n)"), {"n": name})
    return {"name": name}


async def count(db: Database, name: str) -> int:
    async with db.session() as s:
        return int(await s.scalar(text("SELECT count(*) FROM things WHERE name = :n"), {"n": name}))


def client(settings: ServiceSettings, db: Database) -> httpx.AsyncClient:
    app = create_app(settings, title="kittest", routers=[router], database=db, checks={})
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, raise_app_exceptions=False), base_url="http://t"
    )


async def test_migrations_keep_version_table_in_service_schema(db: Database) -> None:
    async with db.session() as s:
        tables = set(
            (
                await s.execute(
                    text(
                        "SELECT table_name FROM information_schema.tables"
                        " WHERE table_schema = 'kittest'"
                    )
                )
            ).scalars()
        )
        search_path = await s.scalar(text("SHOW search_path"))
    assert {"alembic_version", "outbox", "inbox", "things"} <= tables
    assert search_path == "kittest"


async def test_request_commits_its_transaction(settings: ServiceSettings, db: Database) -> None:
    async with client(settings, db) as c:
        r = await c.post("/things/apple")
    assert r.status_code == 201
    assert await count(db, "apple") == 1


async def test_error_in_request_rolls_back(settings: ServiceSettings, db: Database) -> None:
    async with client(settings, db) as c:
        r = await c.post("/things/fail-pear")
    assert r.status_code == 409
    assert await count(db, "fail-pear") == 0


async def test_commit_failure_becomes_problem_not_success(
    settings: ServiceSettings, db: Database
) -> None:
    async with client(settings, db) as c:
        r = await c.post("/twice/plum")
    # A 201 here would mean the response went out before the commit was attempted.
    assert r.status_code == 409
    assert r.headers["content-type"] == "application/problem+json"
    assert await count(db, "plum") == 0


async def test_readyz_checks_real_database_kafka_and_redis(
    settings: ServiceSettings, db: Database
) -> None:
    app = create_app(settings, title="kittest", database=db)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        r = await c.get("/readyz")
    assert r.json() == {"status": "ok", "checks": {"db": "ok", "kafka": "ok", "redis": "ok"}}


async def test_a_pooled_connection_closed_by_the_server_while_idle_is_replaced(
    settings: ServiceSettings,
) -> None:
    engine = create_async_engine(settings.database_url, pool_size=1, max_overflow=0)
    ping_idle_connections(engine, idle_after_s=0.0)
    killer = Database(settings)
    try:
        async with engine.connect() as conn:
            first_pid = await conn.scalar(text("SELECT pg_backend_pid()"))
        async with killer.engine.connect() as conn:
            await conn.execute(text("SELECT pg_terminate_backend(:p)"), {"p": first_pid})
        async with engine.connect() as conn:
            second_pid = await conn.scalar(text("SELECT pg_backend_pid()"))
        assert second_pid != first_pid
    finally:
        await engine.dispose()
        await killer.dispose()


async def test_a_recently_used_connection_is_handed_out_without_a_ping(
    settings: ServiceSettings,
) -> None:
    engine = create_async_engine(settings.database_url, pool_size=1, max_overflow=0)
    ping_idle_connections(engine, idle_after_s=60.0)
    pings: list[object] = []
    original = engine.dialect.do_ping
    engine.dialect.do_ping = lambda c: pings.append(c) or original(c)  # type: ignore[method-assign]
    try:
        for _ in range(3):
            async with engine.connect() as conn:
                assert await conn.scalar(text("SELECT 1")) == 1
        assert pings == []
    finally:
        await engine.dispose()
