import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import APIRouter
from kit import idempotency
from kit.app import create_app
from kit.db import Database, Session
from kit.errors import Conflict
from kit.idempotency import IdempotencyKeyHeader
from kit.settings import ServiceSettings
from sqlalchemy import text

pytestmark = pytest.mark.integration

TTL = timedelta(hours=1)
router = APIRouter()


@router.post("/things", status_code=201)
async def add_thing(
    body: dict[str, Any], session: Session, idempotency_key: IdempotencyKeyHeader = None
) -> Any:
    async def make() -> Any:
        name = body["name"]
        row_id = await session.scalar(
            text("INSERT INTO things (name) VALUES (:n) RETURNING id"), {"n": name}
        )
        if name.startswith("fail-"):
            raise Conflict("changed my mind")
        return {"id": row_id, "name": name}

    return await idempotency.respond_once(
        session,
        key=idempotency_key,
        scope="things",
        request_body=body,
        make=make,
        status_code=201,
        ttl=TTL,
    )


def client(settings: ServiceSettings, db: Database) -> httpx.AsyncClient:
    app = create_app(settings, title="kittest", routers=[router], database=db, checks={})
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, raise_app_exceptions=False), base_url="http://t"
    )


async def things(db: Database, prefix: str) -> int:
    async with db.session() as s:
        return int(
            await s.scalar(
                text("SELECT count(*) FROM things WHERE name LIKE :p"), {"p": prefix + "%"}
            )
        )


async def test_a_retry_with_the_same_key_replays_the_first_answer(
    settings: ServiceSettings, db: Database
) -> None:
    async with client(settings, db) as http:
        first = await http.post("/things", json={"name": "a1"}, headers={"Idempotency-Key": "k1"})
        again = await http.post("/things", json={"name": "a1"}, headers={"Idempotency-Key": "k1"})
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    assert await things(db, "a1") == 1


async def test_without_a_key_every_request_does_the_work(
    settings: ServiceSettings, db: Database
) -> None:
    async with client(settings, db) as http:
        answers = [await http.post("/things", json={"name": f"b1-{i}"}) for i in range(2)]
    assert [a.status_code for a in answers] == [201, 201]
    assert not any("idempotent-replayed" in a.headers for a in answers)
    assert await things(db, "b1-") == 2


async def test_the_same_key_with_another_body_is_a_422_and_changes_nothing(
    settings: ServiceSettings, db: Database
) -> None:
    async with client(settings, db) as http:
        await http.post("/things", json={"name": "c1"}, headers={"Idempotency-Key": "k3"})
        other = await http.post("/things", json={"name": "c2"}, headers={"Idempotency-Key": "k3"})
    assert other.status_code == 422
    assert other.headers["content-type"].startswith("application/problem+json")
    assert other.json()["title"] == "Idempotency-Key reused"
    assert await things(db, "c2") == 0


@pytest.mark.parametrize("key", ["", "   ", "x" * 256, "bad\x01key"])
async def test_a_malformed_key_is_a_400(settings: ServiceSettings, db: Database, key: str) -> None:
    async with client(settings, db) as http:
        answer = await http.post("/things", json={"name": "d1"}, headers={"Idempotency-Key": key})
    assert answer.status_code == 400
    assert await things(db, "d1") == 0


async def test_a_failed_request_stores_nothing_so_the_key_can_be_retried(
    settings: ServiceSettings, db: Database
) -> None:
    async with client(settings, db) as http:
        failed = await http.post(
            "/things", json={"name": "fail-e1"}, headers={"Idempotency-Key": "k5"}
        )
        assert failed.status_code == 409
        async with db.session() as s:
            assert await s.scalar(text("SELECT count(*) FROM idempotency_keys")) == 0
        # Same key, new body: allowed, since the failure left no answer behind.
        ok = await http.post("/things", json={"name": "e1"}, headers={"Idempotency-Key": "k5"})
    assert ok.status_code == 201
    assert await things(db, "fail-e1") == 0


async def test_concurrent_requests_with_one_key_do_the_work_once(
    settings: ServiceSettings, db: Database
) -> None:
    async with client(settings, db) as http:
        answers = await asyncio.gather(
            *(
                http.post("/things", json={"name": "f1"}, headers={"Idempotency-Key": "k6"})
                for _ in range(5)
            )
        )
    assert {a.status_code for a in answers} == {201}
    assert len({a.json()["id"] for a in answers}) == 1
    assert sum(a.headers.get("idempotent-replayed") == "true" for a in answers) == 4
    assert await things(db, "f1") == 1


async def test_an_expired_answer_is_replaced(db: Database) -> None:
    fingerprint = idempotency.request_fingerprint({"n": 1})
    long_ago = datetime.now(UTC) - timedelta(days=2)
    async with db.session() as s:
        held = await idempotency.claim(s, scope="s", key="k7", fingerprint=fingerprint)
        await held.remember(s, status_code=201, body={"v": "old"}, ttl=TTL, now=long_ago)
    async with db.session() as s:
        held = await idempotency.claim(
            s, scope="s", key="k7", fingerprint=idempotency.request_fingerprint({"n": 2})
        )
        assert held.replay is None  # expired: a different body is not a conflict
        await held.remember(s, status_code=201, body={"v": "new"}, ttl=TTL)
    async with db.session() as s:
        held = await idempotency.claim(
            s, scope="s", key="k7", fingerprint=idempotency.request_fingerprint({"n": 2})
        )
        assert held.replay is not None
        assert held.replay.body == b'{"v":"new"}'
        assert await idempotency.prune_expired(s) == 0
        assert await idempotency.prune_expired(s, now=datetime.now(UTC) + 2 * TTL) == 1


def test_keyed_fingerprints_differ_from_plain_ones() -> None:
    body = {"password": "hunter2", "a": [1, 2]}
    plain = idempotency.request_fingerprint(body)
    assert plain == idempotency.request_fingerprint({"a": [1, 2], "password": "hunter2"})
    assert idempotency.request_fingerprint(body, secret="s1") != plain
    assert idempotency.request_fingerprint(body, secret="s1") != idempotency.request_fingerprint(
        body, secret="s2"
    )
