"""Live delivery through the gateway's /v1/realtime: messages, replay after a
reconnect, post activity, isolation of conversations, and two realtime nodes."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from realtime_support import open_socket, second_node

pytestmark = pytest.mark.integration

MSG = "/v1/messaging/conversations"


async def direct(api, a, b) -> str:
    """The direct conversation of a and b; retried while messaging has not yet seen
    b's identity.user.registered event."""
    for _ in range(100):
        resp = await api.post(f"{MSG}/direct", json={"user_id": b.id}, headers=a.auth)
        if resp.status_code != 404:
            break
        await asyncio.sleep(0.2)
    assert resp.status_code in (200, 201), resp.text
    return str(resp.json()["id"])


async def send(api, sender, conversation: str, text: str) -> None:
    resp = await api.post(
        f"{MSG}/{conversation}/messages",
        json={"text": text},
        headers={**sender.auth, "Idempotency-Key": str(uuid.uuid4())},
    )
    assert resp.status_code in (200, 201), resp.text


def texts(events: list[dict]) -> list[str]:
    return [e["data"]["text"] for e in events if e["event_type"] == "messaging.message.sent"]


async def test_message_reaches_the_recipient_and_never_a_stranger(api, make_user):
    a, b, c = await make_user(), await make_user(), await make_user()
    conversation = await direct(api, a, b)
    bs = await open_socket(b)
    cs = await open_socket(c)
    try:
        await send(api, a, conversation, "مرحبا يا صديقي")
        frame = await bs.expect(lambda f: f.get("event_type") == "messaging.message.sent")
        assert frame["channel"] == f"user:{b.id}"
        assert frame["data"]["text"] == "مرحبا يا صديقي"
        assert frame["data"]["conversation_id"] == conversation
        assert isinstance(frame["id"], int)

        await cs.send({"type": "subscribe", "channel": f"conversation:{conversation}", "ref": "x"})
        refused = await cs.expect("error")
        assert (refused["code"], refused["ref"]) == ("forbidden", "x")
        await send(api, a, conversation, "سر")
        assert texts(await bs.events()) == ["سر"]
        assert await cs.events(settle=0.5, timeout=2) == []
    finally:
        await bs.close()
        await cs.close()


async def test_reconnect_with_last_event_id_gets_exactly_what_was_missed(api, make_user):
    a, b = await make_user(), await make_user()
    conversation = await direct(api, a, b)
    bs = await open_socket(b)
    await send(api, a, conversation, "first")
    first = await bs.expect(lambda f: f.get("data", {}).get("text") == "first")
    last_id = first["id"]
    await bs.close()

    await send(api, a, conversation, "second")
    await send(api, a, conversation, "third")
    await asyncio.sleep(1.5)  # let the outbox relay and realtime store them

    again = await open_socket(b)
    try:
        await again.send({"type": "subscribe", "channel": f"user:{b.id}", "since": last_id})
        subscribed = await again.expect("subscribed")
        assert subscribed["complete"] is True
        replayed = await again.events()
        assert texts(replayed) == ["second", "third"]
        ids = [e["id"] for e in replayed]
        assert len(set(ids)) == len(ids) and min(ids) > last_id
        # Subscribing again with the same cursor sends nothing twice on this socket.
        await again.send({"type": "subscribe", "channel": f"user:{b.id}", "since": last_id})
        assert (await again.expect("subscribed"))["replayed"] == 0
    finally:
        await again.close()


async def test_comment_on_a_post_notifies_its_author_live(api, make_user):
    author, commenter, reader = await make_user(), await make_user(), await make_user()
    resp = await api.post("/v1/content/posts", json={"text": "منشور للاختبار"}, headers=author.auth)
    assert resp.status_code == 201, resp.text
    post_id = resp.json()["id"]
    author_socket = await open_socket(author)
    reader_socket = await open_socket(reader)
    try:
        await reader_socket.send({"type": "subscribe", "channel": f"post:{post_id}"})
        await reader_socket.expect("subscribed")
        resp = await api.post(
            f"/v1/content/posts/{post_id}/comments",
            json={"text": "تعليق جميل"},
            headers=commenter.auth,
        )
        assert resp.status_code == 201, resp.text
        live = await author_socket.expect(
            lambda f: f.get("event_type") == "content.comment.created"
        )
        assert live["channel"] == f"user:{author.id}"
        assert live["data"]["author_id"] == commenter.id
        assert live["data"]["text"] == "تعليق جميل"
        # Readers of the post see the new count, never the text or who wrote it.
        counter = await reader_socket.expect(
            lambda f: f.get("event_type") == "content.comment.created"
        )
        assert counter["data"]["comment_count"] >= 1
        assert "تعليق" not in str(counter) and commenter.id not in str(counter)
    finally:
        await author_socket.close()
        await reader_socket.close()


async def test_two_realtime_nodes_each_deliver_every_event_once(api, make_user):
    a, b = await make_user(), await make_user()
    conversation = await direct(api, a, b)
    async with second_node() as node_url:
        via_gateway = await open_socket(b)
        direct_socket = await open_socket(b, node_url)
        sender_socket = await open_socket(a, node_url)
        try:
            await direct_socket.send(
                {"type": "subscribe", "channel": f"conversation:{conversation}"}
            )
            await direct_socket.expect("subscribed")
            for i in range(5):
                await send(api, a, conversation, f"m{i}")
            got = {
                "gateway": await via_gateway.events(),
                "node2": await direct_socket.events(),
                "sender": await sender_socket.events(),
            }
            for name, events in got.items():
                assert texts(events) == [f"m{i}" for i in range(5)], name
                ids = [e["id"] for e in events]
                assert len(set(ids)) == 5, f"{name} got duplicates: {ids}"
            assert [e["id"] for e in got["gateway"]] == [e["id"] for e in got["node2"]]
        finally:
            for s in (via_gateway, direct_socket, sender_socket):
                await s.close()
