import httpx
import pytest
from fastapi import APIRouter
from kit.app import create_app
from kit.db import Database, Session
from kit.errors import Conflict
from kit.settings import ServiceSettings
from sqlalchemy import text

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
