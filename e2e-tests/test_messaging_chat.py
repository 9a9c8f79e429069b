"""Messaging through the gateway: chat, offline notifications, blocks, bad input."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from e2e_support import data_of, headers_of, open_direct

import contracts

pytestmark = pytest.mark.integration

MESSAGES = "/v1/messaging/conversations"


async def test_a_sends_b_a_message_and_b_reads_it(api, make_user, tail) -> None:
    t = await tail("messaging.message.v1")
    a, b = await make_user(), await make_user()
    conversation = await open_direct(api, a, b)

    resp = await api.post(
        f"{MESSAGES}/{conversation}/messages",
        json={"text": "مرحبا يا صديقي"},
        headers={**a.auth, "Idempotency-Key": uuid.uuid4().hex},
    )
    assert resp.status_code == 201, resp.text
    message = resp.json()

    history = await api.get(f"{MESSAGES}/{conversation}/messages", headers=b.auth)
    assert history.status_code == 200
    assert [m["text"] for m in history.json()["items"]] == ["مرحبا يا صديقي"]
    listed = (await api.get(MESSAGES, headers=b.auth)).json()["items"]
    assert [(c["id"], c["unread_count"]) for c in listed] == [(conversation, 1)]

    read = await api.post(
        f"{MESSAGES}/{conversation}/read", json={"message_id": message["id"]}, headers=b.auth
    )
    assert read.status_code == 200 and read.json()["unread_count"] == 0

    records = await t.collect(lambda r: r.key.decode() == conversation, settle=1.5)
    types = [headers_of(r)["ce_type"] for r in records]
    assert types == ["messaging.message.sent", "messaging.message.read"]
    for r in records:
        contracts.validate_event(
            {"topic": r.topic, "key": r.key, "headers": r.headers, "data": r.value}
        )
    sent = data_of(records[0])
    assert sent["message_id"] == message["id"]
    assert sorted(sent["participant_ids"]) == sorted([a.id, b.id])


async def test_offline_recipient_gets_a_message_notification(api, make_user, tail) -> None:
    t = await tail("messaging.notification.v1")
    a, b = await make_user(), await make_user()
    conversation = await open_direct(api, a, b)
    for text in ("أهلا", "هل أنت هنا؟"):
        resp = await api.post(
            f"{MESSAGES}/{conversation}/messages", json={"text": text}, headers=a.auth
        )
        assert resp.status_code == 201, resp.text

    # The consumer of messaging.message.sent makes the notification, just after the send.
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 20
    while True:
        notes = (await api.get("/v1/messaging/notifications", headers=b.auth)).json()["items"]
        if notes or loop.time() > deadline:
            break
        await asyncio.sleep(0.2)
    assert [(n["type"], n["subject_id"], n["actor_ids"]) for n in notes] == [
        ("message", conversation, [a.id])
    ]
    unread = await api.get("/v1/messaging/notifications/unread-count", headers=b.auth)
    assert unread.json() == {"unread": 1}
    assert (await api.get("/v1/messaging/notifications", headers=a.auth)).json()["items"] == []

    records = await t.collect(lambda r: r.key.decode() == b.id, settle=1.5)
    assert [headers_of(r)["ce_type"] for r in records] == [
        "messaging.notification.created",
        "messaging.notification.updated",
    ]
    assert {data_of(r)["notification_id"] for r in records} == {notes[0]["id"]}


async def test_a_blocked_user_cannot_message(api, make_user) -> None:
    a, b = await make_user(), await make_user()
    conversation = await open_direct(api, a, b)
    assert (await api.post(f"/v1/identity/users/{a.id}/block", headers=b.auth)).is_success

    loop = asyncio.get_running_loop()
    deadline = loop.time() + 20
    while True:
        resp = await api.post(
            f"{MESSAGES}/{conversation}/messages", json={"text": "اسمعني"}, headers=a.auth
        )
        if resp.status_code == 403:
            break
        assert resp.status_code == 201, resp.text
        assert loop.time() < deadline, "the block never reached messaging"
        await asyncio.sleep(0.2)
    assert resp.headers["content-type"].startswith("application/problem+json")
    again = await api.post(f"{MESSAGES}/direct", json={"user_id": b.id}, headers=a.auth)
    assert again.status_code == 403


async def test_bad_input_and_strangers_get_a_clear_4xx(api, make_user) -> None:
    a, b, stranger = await make_user(), await make_user(), await make_user()
    conversation = await open_direct(api, a, b)
    url = f"{MESSAGES}/{conversation}/messages"
    for body in ({"text": ""}, {"text": 7}, {"text": "x" * 5000}, {"txt": "typo"}):
        resp = await api.post(url, json=body, headers=a.auth)
        assert resp.status_code == 422, (body, resp.text)
        assert resp.headers["content-type"].startswith("application/problem+json")
    assert (await api.post(url, json={"text": "hi"})).status_code == 401
    assert (await api.get(url, headers=stranger.auth)).status_code == 404
    assert (await api.post(url, json={"text": "hi"}, headers=stranger.auth)).status_code == 404
    assert (await api.get(f"{MESSAGES}/not-a-uuid", headers=a.auth)).status_code == 422
    resp = await api.post(
        f"{MESSAGES}/direct",
        content=b"{oops",
        headers={**a.auth, "content-type": "application/json"},
    )
    assert 400 <= resp.status_code < 500
    assert (await api.get(url, params={"cursor": "forged"}, headers=a.auth)).status_code == 400
