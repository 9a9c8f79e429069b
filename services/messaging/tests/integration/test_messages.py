from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI
from messaging.settings import MessagingSettings
from redis.asyncio import Redis

from contracts import validate

from .conftest import apply_sent, direct, notifications_of, outbox, person

pytestmark = pytest.mark.integration


async def test_a_sends_b_reads_with_history_unread_counts_and_receipts(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    a, b = await person(app), await person(app)
    conversation = await direct(client, a, b)
    sent = []
    for i in range(5):
        resp = await client.post(
            f"/conversations/{conversation}/messages", json={"text": f"رسالة {i}"}, headers=a.auth
        )
        assert resp.status_code == 201, resp.text
        sent.append(resp.json())
    assert [m["seq"] for m in sent] == [1, 2, 3, 4, 5]

    page1 = (
        await client.get(f"/conversations/{conversation}/messages?limit=3", headers=b.auth)
    ).json()
    assert [m["text"] for m in page1["items"]] == ["رسالة 4", "رسالة 3", "رسالة 2"]
    page2 = (
        await client.get(
            f"/conversations/{conversation}/messages",
            params={"limit": 3, "cursor": page1["next_cursor"]},
            headers=b.auth,
        )
    ).json()
    assert [m["text"] for m in page2["items"]] == ["رسالة 1", "رسالة 0"]
    assert page2["next_cursor"] is None

    b_view = (await client.get(f"/conversations/{conversation}", headers=b.auth)).json()
    assert b_view["unread_count"] == 5
    assert (await client.get(f"/conversations/{conversation}", headers=a.auth)).json()[
        "unread_count"
    ] == 0
    totals = (await client.get("/conversations/unread-count", headers=b.auth)).json()
    assert totals == {"conversations": 1, "messages": 5}

    read = await client.post(
        f"/conversations/{conversation}/read", json={"message_id": sent[2]["id"]}, headers=b.auth
    )
    assert read.status_code == 200 and read.json()["unread_count"] == 2
    # A read mark never moves back.
    back = await client.post(
        f"/conversations/{conversation}/read", json={"message_id": sent[0]["id"]}, headers=b.auth
    )
    assert back.json()["last_read_message_id"] == sent[2]["id"]
    receipts = (await client.get(f"/conversations/{conversation}", headers=a.auth)).json()
    by_user = {p["user_id"]: p["last_read_message_id"] for p in receipts["participants"]}
    assert by_user[str(b.id)] == sent[2]["id"] and by_user[str(a.id)] == sent[4]["id"]

    events = [e for e in await outbox(app, conversation) if e[0].startswith("messaging.message")]
    assert [t for t, _ in events] == ["messaging.message.sent"] * 5 + ["messaging.message.read"]
    for event_type, data in events:
        validate(event_type, data)
    assert sorted(events[0][1]["participant_ids"]) == sorted([str(a.id), str(b.id)])
    assert events[-1][1]["user_id"] == str(b.id)
    assert events[-1][1]["last_read_message_id"] == sent[2]["id"]


async def test_replies_and_attachments_by_reference(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    a, b = await person(app), await person(app)
    conversation = await direct(client, a, b)
    first = (
        await client.post(
            f"/conversations/{conversation}/messages", json={"text": "?"}, headers=a.auth
        )
    ).json()
    attachment = {
        "media_id": "0193f5e0-5555-7666-8777-888899990000",
        "content_type": "image/jpeg",
        "url": "https://cdn.platform.example/m/1.jpg",
    }
    reply = await client.post(
        f"/conversations/{conversation}/messages",
        json={"attachments": [attachment], "reply_to_id": first["id"]},
        headers=b.auth,
    )
    assert reply.status_code == 201, reply.text
    assert reply.json()["reply_to_id"] == first["id"]
    assert reply.json()["attachments"] == [attachment]
    other = await direct(client, a, await person(app))
    elsewhere = await client.post(
        f"/conversations/{other}/messages",
        json={"text": "x", "reply_to_id": first["id"]},
        headers=a.auth,
    )
    assert elsewhere.status_code == 422


async def test_idempotency_key_sends_once(client: httpx.AsyncClient, app: FastAPI) -> None:
    a, b = await person(app), await person(app)
    conversation = await direct(client, a, b)
    url = f"/conversations/{conversation}/messages"
    headers = {**a.auth, "Idempotency-Key": "send-1"}
    first = await client.post(url, json={"text": "once"}, headers=headers)
    again = await client.post(url, json={"text": "once"}, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.json()["id"] == first.json()["id"]
    assert again.headers.get("idempotent-replayed") == "true"
    other = await client.post(url, json={"text": "different"}, headers=headers)
    assert other.status_code == 422
    assert (
        await client.post(url, json={"text": "x"}, headers={**a.auth, "Idempotency-Key": " "})
    ).status_code == 400
    history = (await client.get(url, headers=b.auth)).json()["items"]
    assert [m["text"] for m in history] == ["once"]
    sent = [t for t, _ in await outbox(app, conversation) if t == "messaging.message.sent"]
    assert len(sent) == 1


async def test_edit_and_delete_for_everyone_only_by_the_sender(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    a, b = await person(app), await person(app)
    conversation = await direct(client, a, b)
    url = f"/conversations/{conversation}/messages"
    message = (await client.post(url, json={"text": "typo"}, headers=a.auth)).json()
    assert (
        await client.patch(f"{url}/{message['id']}", json={"text": "hack"}, headers=b.auth)
    ).status_code == 403
    edited = await client.patch(f"{url}/{message['id']}", json={"text": "fixed"}, headers=a.auth)
    assert edited.status_code == 200 and edited.json()["edited_at"] is not None
    assert (await client.delete(f"{url}/{message['id']}", headers=b.auth)).status_code == 403
    assert (await client.delete(f"{url}/{message['id']}", headers=a.auth)).status_code == 204
    assert (await client.delete(f"{url}/{message['id']}", headers=a.auth)).status_code == 204
    [seen] = (await client.get(url, headers=b.auth)).json()["items"]
    assert seen["deleted"] is True and seen["text"] == "" and seen["attachments"] == []
    assert (
        await client.patch(f"{url}/{message['id']}", json={"text": "zombie"}, headers=a.auth)
    ).status_code == 410
    types = [t for t, _ in await outbox(app, conversation) if t.startswith("messaging.message")]
    assert types == [
        "messaging.message.sent",
        "messaging.message.edited",
        "messaging.message.deleted",
    ]
    for event_type, data in await outbox(app, conversation):
        validate(event_type, data)


async def test_offline_recipients_get_one_batched_notification_unless_online_or_muted(
    client: httpx.AsyncClient, app: FastAPI, redis: Redis, settings: MessagingSettings
) -> None:
    a, b, c = await person(app, "ليلى"), await person(app), await person(app)
    resp = await client.post(
        "/conversations/groups",
        json={"title": "g", "member_ids": [str(b.id), str(c.id)]},
        headers=a.auth,
    )
    group = resp.json()["id"]
    await redis.set(f"{settings.presence_key_prefix}{c.id}", "1", ex=60)
    for text in ("one", "two", "three"):
        assert (
            await client.post(
                f"/conversations/{group}/messages", json={"text": text}, headers=a.auth
            )
        ).status_code == 201
    # Sending leaves notifications to the consumer of messaging.message.sent.
    assert await notifications_of(client, b) == []
    assert await apply_sent(app, group) == 3
    [note] = await notifications_of(client, b)
    assert note["type"] == "message" and note["subject_id"] == group
    assert note["actor_ids"] == [str(a.id)] and note["actor_count"] == 1
    assert "ليلى" in note["summary"]
    assert await notifications_of(client, c) == []  # online: the socket delivers instead

    await client.put(f"/conversations/{group}/mute", json={"muted": True}, headers=b.auth)
    await client.post(f"/notifications/{note['id']}/read", headers=b.auth)
    await client.post(f"/conversations/{group}/messages", json={"text": "four"}, headers=a.auth)
    assert await apply_sent(app, group) == 1
    assert [n["id"] for n in await notifications_of(client, b)] == [note["id"]]

    # Reading the conversation marks its message notification read.
    await client.put(f"/conversations/{group}/mute", json={"muted": False}, headers=b.auth)
    last = (
        await client.post(f"/conversations/{group}/messages", json={"text": "five"}, headers=a.auth)
    ).json()
    await apply_sent(app, group)
    assert (await client.get("/notifications/unread-count", headers=b.auth)).json() == {"unread": 1}
    await client.post(
        f"/conversations/{group}/read", json={"message_id": last["id"]}, headers=b.auth
    )
    assert (await client.get("/notifications/unread-count", headers=b.auth)).json() == {"unread": 0}


async def test_bad_message_input_is_a_clear_4xx(
    client: httpx.AsyncClient, app: FastAPI, settings: MessagingSettings
) -> None:
    a, b = await person(app), await person(app)
    conversation = await direct(client, a, b)
    url = f"/conversations/{conversation}/messages"
    cases = [
        {"text": "   "},
        {"text": "x" * (settings.message_max_chars + 1)},
        {"text": 5},
        {"attachments": [{"media_id": "x", "content_type": "image/png", "url": "https://x/y"}]},
        {
            "attachments": [
                {
                    "media_id": "0193f5e0-5555-7666-8777-888899990000",
                    "content_type": "image/png",
                    "url": "ftp://x/y",
                }
            ]
        },
        {"text": "hi", "unknown": True},
        {"text": "hi", "reply_to_id": "0193f5e0-5555-7666-8777-888899990000"},
    ]
    for body in cases:
        resp = await client.post(url, json=body, headers=a.auth)
        assert resp.status_code == 422, (body, resp.text)
        assert resp.headers["content-type"].startswith("application/problem+json")
    assert (await client.post(url, json={"text": "hi"})).status_code == 401
    assert (
        await client.get("/conversations/not-a-uuid/messages", headers=a.auth)
    ).status_code == 422
    assert (await client.get(url, params={"limit": 1000}, headers=a.auth)).status_code == 422
    assert [t for t, _ in await outbox(app, conversation) if t == "messaging.message.sent"] == []
