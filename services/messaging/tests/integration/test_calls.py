from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta

import httpx
import pytest
from fastapi import FastAPI
from messaging.calls.service import expire_rooms
from sqlalchemy import text

from contracts import validate

from .conftest import block, outbox, person

pytestmark = pytest.mark.integration


async def test_owner_mints_single_use_tokens_published_only_as_hashes(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    owner, guest, stranger = await person(app), await person(app), await person(app)
    resp = await client.post("/calls/rooms", json={"title": "اجتماع"}, headers=owner.auth)
    assert resp.status_code == 201, resp.text
    room = resp.json()
    assert room["owner_id"] == str(owner.id) and room["open"] is True
    lifetime = datetime.fromisoformat(room["expires_at"]) - datetime.fromisoformat(
        room["created_at"]
    )
    assert lifetime == timedelta(hours=1)

    minted = await client.post(
        f"/calls/rooms/{room['id']}/tokens", json={"user_id": str(guest.id)}, headers=owner.auth
    )
    assert minted.status_code == 201, minted.text
    token = minted.json()["token"]
    assert (
        await client.post(
            f"/calls/rooms/{room['id']}/tokens", json={"user_id": str(guest.id)}, headers=guest.auth
        )
    ).status_code == 404
    assert (await client.get(f"/calls/rooms/{room['id']}", headers=guest.auth)).status_code == 200
    assert (
        await client.get(f"/calls/rooms/{room['id']}", headers=stranger.auth)
    ).status_code == 404

    events = await outbox(app, room["id"])
    assert [t for t, _ in events] == ["messaging.call.room_created", "messaging.call.token_issued"]
    for event_type, data in events:
        validate(event_type, data)
    issued = events[1][1]
    assert issued["token_sha256"] == hashlib.sha256(token.encode()).hexdigest()
    assert issued["user_id"] == str(guest.id) and issued["expires_at"]
    assert token not in json.dumps([d for _, d in events])
    async with app.state.db.session() as session:
        result = await session.execute(
            text("SELECT token_sha256 FROM call_tokens WHERE room_id = :r"), {"r": room["id"]}
        )
        stored = result.scalars().all()
    assert stored == [issued["token_sha256"]]


async def test_closed_rooms_refuse_tokens_and_close_once(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    owner, guest, enemy = await person(app), await person(app), await person(app)
    room = (await client.post("/calls/rooms", json={}, headers=owner.auth)).json()
    await block(app, enemy, owner)
    assert (
        await client.post(
            f"/calls/rooms/{room['id']}/tokens", json={"user_id": str(enemy.id)}, headers=owner.auth
        )
    ).status_code == 403
    assert (
        await client.delete(f"/calls/rooms/{room['id']}", headers=guest.auth)
    ).status_code == 404
    closed = await client.delete(f"/calls/rooms/{room['id']}", headers=owner.auth)
    assert closed.status_code == 200 and closed.json()["close_reason"] == "closed"
    assert (
        await client.delete(f"/calls/rooms/{room['id']}", headers=owner.auth)
    ).status_code == 200
    assert (
        await client.post(
            f"/calls/rooms/{room['id']}/tokens", json={"user_id": str(guest.id)}, headers=owner.auth
        )
    ).status_code == 410
    types = [t for t, _ in await outbox(app, room["id"])]
    assert types == ["messaging.call.room_created", "messaging.call.room_closed"]


async def test_rooms_expire(client: httpx.AsyncClient, app: FastAPI) -> None:
    owner = await person(app)
    room = (await client.post("/calls/rooms", json={"ttl_s": 60}, headers=owner.auth)).json()
    expires = datetime.fromisoformat(room["expires_at"])
    async with app.state.db.session() as session:
        await expire_rooms(session, expires - timedelta(seconds=1))
    assert [t for t, _ in await outbox(app, room["id"])] == ["messaging.call.room_created"]
    async with app.state.db.session() as session:
        assert await expire_rooms(session, expires + timedelta(seconds=1)) >= 1
    events = await outbox(app, room["id"])
    assert events[-1][0] == "messaging.call.room_closed"
    assert events[-1][1]["reason"] == "expired"
    view = (await client.get(f"/calls/rooms/{room['id']}", headers=owner.auth)).json()
    assert view["open"] is False and view["close_reason"] == "expired"


async def test_bad_call_input_is_a_clear_4xx(client: httpx.AsyncClient, app: FastAPI) -> None:
    owner = await person(app)
    for body in ({"ttl_s": 5}, {"ttl_s": 10**7}, {"title": "t" * 101}, {"color": "red"}):
        resp = await client.post("/calls/rooms", json=body, headers=owner.auth)
        assert resp.status_code == 422, (body, resp.text)
    room = (await client.post("/calls/rooms", json={}, headers=owner.auth)).json()
    for body, status in (
        ({"user_id": "x"}, 422),
        ({"user_id": "0193f5e0-5555-7666-8777-888899990000"}, 404),
    ):
        resp = await client.post(f"/calls/rooms/{room['id']}/tokens", json=body, headers=owner.auth)
        assert resp.status_code == status, resp.text
