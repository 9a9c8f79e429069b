"""Idempotency-Key on the creating POSTs that keep their answers in the kit's table, and
the pruning of the service's own tables."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi import FastAPI
from messaging.digests.service import done_digest_pruner
from sqlalchemy import text

from .conftest import outbox, person

pytestmark = pytest.mark.integration


async def test_a_retried_group_creation_creates_one_group(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    owner, member = await person(app), await person(app)
    body = {"title": "مرة واحدة", "member_ids": [str(member.id)]}
    headers = {**owner.auth, "Idempotency-Key": "group-1"}
    first = await client.post("/conversations/groups", json=body, headers=headers)
    again = await client.post("/conversations/groups", json=body, headers=headers)
    assert first.status_code == again.status_code == 201, first.text
    assert again.json()["id"] == first.json()["id"]
    assert again.headers["idempotent-replayed"] == "true"
    created = [t for t, _ in await outbox(app, first.json()["id"])]
    assert created.count("messaging.conversation.created") == 1
    other = await client.post(
        "/conversations/groups", json={**body, "title": "أخرى"}, headers=headers
    )
    assert other.status_code == 422
    mine = (await client.get("/conversations", headers=owner.auth)).json()["items"]
    assert [c["id"] for c in mine] == [first.json()["id"]]


async def test_a_retried_room_creation_creates_one_room(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    owner = await person(app)
    headers = {**owner.auth, "Idempotency-Key": "room-1"}
    first = await client.post("/calls/rooms", json={"title": "اجتماع"}, headers=headers)
    again = await client.post("/calls/rooms", json={"title": "اجتماع"}, headers=headers)
    assert first.status_code == again.status_code == 201, first.text
    assert again.json()["id"] == first.json()["id"]
    bad = await client.post("/calls/rooms", json={}, headers={**owner.auth, "Idempotency-Key": ""})
    assert bad.status_code == 400


async def test_old_sent_and_failed_digests_are_pruned_pending_ones_stay(
    app: FastAPI, settings
) -> None:
    user = uuid.uuid4()
    long_ago = datetime.now(UTC) - timedelta(days=60)
    rows = {"sent": long_ago, "failed": long_ago, "pending": long_ago}
    async with app.state.db.session() as session:
        for status, at in [*rows.items(), ("sent", datetime.now(UTC))]:
            await session.execute(
                text(
                    "INSERT INTO digests (id, user_id, email, notification_ids, subject, body,"
                    " status, created_at, next_attempt_at) VALUES (:id, :u, 'a@mail.example.com',"
                    " '{}', 's', 'b', :st, :at, :at)"
                ),
                {"id": uuid.uuid4(), "u": user, "st": status, "at": at},
            )
    assert await done_digest_pruner(settings)(app.state.db) == 2
    async with app.state.db.session() as session:
        left = sorted(
            (
                await session.execute(
                    text("SELECT status FROM digests WHERE user_id = :u"), {"u": user}
                )
            ).scalars()
        )
    assert left == ["pending", "sent"]  # the recent one and the one still to send
