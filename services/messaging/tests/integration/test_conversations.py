from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest
from fastapi import FastAPI

from contracts import validate

from .conftest import block, direct, outbox, person, unblock

pytestmark = pytest.mark.integration


async def test_a_pair_has_exactly_one_direct_conversation(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    a, b = await person(app), await person(app)
    first = await client.post("/conversations/direct", json={"user_id": str(b.id)}, headers=a.auth)
    assert first.status_code == 201, first.text
    again = await client.post("/conversations/direct", json={"user_id": str(a.id)}, headers=b.auth)
    assert again.status_code == 200
    assert again.json()["id"] == first.json()["id"]
    assert {p["user_id"] for p in first.json()["participants"]} == {str(a.id), str(b.id)}
    events = await outbox(app, first.json()["id"])
    assert [t for t, _ in events] == ["messaging.conversation.created"]
    validate(*events[0])
    assert events[0][1]["kind"] == "direct" and events[0][1]["admin_ids"] == []


async def test_concurrent_openings_of_one_pair_make_one_conversation(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    a, b = await person(app), await person(app)
    results = await asyncio.gather(
        *(
            client.post("/conversations/direct", json={"user_id": str(y.id)}, headers=x.auth)
            for x, y in [(a, b), (b, a), (a, b), (b, a)]
        )
    )
    assert sorted(r.status_code for r in results) == [200, 200, 200, 201]
    assert len({r.json()["id"] for r in results}) == 1


async def test_block_in_either_direction_prevents_messaging(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    a, b = await person(app), await person(app)
    conversation = await direct(client, a, b)
    ok = await client.post(
        f"/conversations/{conversation}/messages", json={"text": "hi"}, headers=a.auth
    )
    assert ok.status_code == 201
    await block(app, b, a)
    for sender in (a, b):
        resp = await client.post(
            f"/conversations/{conversation}/messages", json={"text": "hello?"}, headers=sender.auth
        )
        assert resp.status_code == 403, resp.text
        assert resp.headers["content-type"].startswith("application/problem+json")
    c = await person(app)
    await block(app, c, a)
    resp = await client.post("/conversations/direct", json={"user_id": str(c.id)}, headers=a.auth)
    assert resp.status_code == 403
    group = await client.post(
        "/conversations/groups", json={"title": "g", "member_ids": [str(c.id)]}, headers=a.auth
    )
    assert group.status_code == 403
    await unblock(app, b, a)
    resp = await client.post(
        f"/conversations/{conversation}/messages", json={"text": "again"}, headers=a.auth
    )
    assert resp.status_code == 201
    history = await client.get(f"/conversations/{conversation}/messages", headers=b.auth)
    assert [m["text"] for m in history.json()["items"]] == ["again", "hi"]


async def test_non_participants_get_404_for_everything(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    a, b, stranger = await person(app), await person(app), await person(app)
    conversation = await direct(client, a, b)
    sent = await client.post(
        f"/conversations/{conversation}/messages", json={"text": "secret"}, headers=a.auth
    )
    message_id = sent.json()["id"]
    base = f"/conversations/{conversation}"
    attempts = [
        client.get(base, headers=stranger.auth),
        client.get(f"{base}/messages", headers=stranger.auth),
        client.post(f"{base}/messages", json={"text": "x"}, headers=stranger.auth),
        client.post(f"{base}/read", json={"message_id": message_id}, headers=stranger.auth),
        client.patch(f"{base}/messages/{message_id}", json={"text": "x"}, headers=stranger.auth),
        client.delete(f"{base}/messages/{message_id}", headers=stranger.auth),
        client.put(f"{base}/mute", json={"muted": True}, headers=stranger.auth),
        client.get(f"/conversations/{uuid.uuid4()}", headers=a.auth),
    ]
    for resp in await asyncio.gather(*attempts):
        assert resp.status_code == 404, (resp.request.url, resp.text)
    assert (await client.get(base)).status_code == 401
    listed = await client.get("/conversations", headers=stranger.auth)
    assert listed.json()["items"] == []


async def test_group_admins_rename_and_manage_members_and_leaving_hands_over_admin(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    admin, m1, m2, m3 = [await person(app) for _ in range(4)]
    resp = await client.post(
        "/conversations/groups",
        json={"title": "  أصدقاء  ", "member_ids": [str(m1.id), str(m2.id), str(admin.id)]},
        headers=admin.auth,
    )
    assert resp.status_code == 201, resp.text
    group = resp.json()
    gid = group["id"]
    assert group["title"] == "أصدقاء" and group["kind"] == "group"
    roles = {p["user_id"]: p["role"] for p in group["participants"]}
    assert roles == {str(admin.id): "admin", str(m1.id): "member", str(m2.id): "member"}

    assert (
        await client.patch(f"/conversations/{gid}", json={"title": "x"}, headers=m1.auth)
    ).status_code == 403
    assert (
        await client.post(
            f"/conversations/{gid}/members", json={"user_ids": [str(m3.id)]}, headers=m1.auth
        )
    ).status_code == 403
    renamed = await client.patch(
        f"/conversations/{gid}", json={"title": "عائلة"}, headers=admin.auth
    )
    assert renamed.status_code == 200 and renamed.json()["title"] == "عائلة"
    added = await client.post(
        f"/conversations/{gid}/members", json={"user_ids": [str(m3.id)]}, headers=admin.auth
    )
    assert str(m3.id) in {p["user_id"] for p in added.json()["participants"]}
    removed = await client.delete(f"/conversations/{gid}/members/{m2.id}", headers=admin.auth)
    assert removed.status_code == 204
    assert (await client.get(f"/conversations/{gid}", headers=m2.auth)).status_code == 404

    assert (await client.post(f"/conversations/{gid}/leave", headers=admin.auth)).status_code == 204
    after = (await client.get(f"/conversations/{gid}", headers=m1.auth)).json()
    roles = {p["user_id"]: p["role"] for p in after["participants"]}
    assert roles == {str(m1.id): "admin", str(m3.id): "member"}

    events = await outbox(app, gid)
    assert [t for t, _ in events] == ["messaging.conversation.created"] + [
        "messaging.conversation.updated"
    ] * 4
    for event_type, data in events:
        validate(event_type, data)
    assert events[-1][1]["admin_ids"] == [str(m1.id)]
    assert sorted(events[-1][1]["participant_ids"]) == sorted([str(m1.id), str(m3.id)])


async def test_direct_conversations_cannot_be_left_renamed_or_grown(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    a, b, c = await person(app), await person(app), await person(app)
    conversation = await direct(client, a, b)
    assert (
        await client.post(f"/conversations/{conversation}/leave", headers=a.auth)
    ).status_code == 422
    assert (
        await client.patch(f"/conversations/{conversation}", json={"title": "t"}, headers=a.auth)
    ).status_code == 422
    assert (
        await client.post(
            f"/conversations/{conversation}/members", json={"user_ids": [str(c.id)]}, headers=a.auth
        )
    ).status_code == 422


async def test_bad_conversation_input_is_a_clear_4xx(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    a = await person(app)
    cases = [
        ("/conversations/direct", {"user_id": str(a.id)}, 422),
        ("/conversations/direct", {"user_id": "not-a-uuid"}, 422),
        ("/conversations/direct", {"user_id": str(uuid.uuid4())}, 404),
        ("/conversations/direct", {}, 422),
        ("/conversations/groups", {"title": "", "member_ids": [str(uuid.uuid4())]}, 422),
        ("/conversations/groups", {"title": "t", "member_ids": []}, 422),
        ("/conversations/groups", {"title": "t", "member_ids": [str(a.id)]}, 422),
        ("/conversations/groups", {"title": "t" * 101, "member_ids": [str(uuid.uuid4())]}, 422),
    ]
    for path, body, status in cases:
        resp = await client.post(path, json=body, headers=a.auth)
        assert resp.status_code == status, (body, resp.text)
        assert resp.headers["content-type"].startswith("application/problem+json")
    resp = await client.post(
        "/conversations/direct",
        content=b"{not json",
        headers={**a.auth, "content-type": "application/json"},
    )
    assert resp.status_code in (400, 422)
    assert (
        await client.get("/conversations", params={"cursor": "forged"}, headers=a.auth)
    ).status_code == 400
