"""Call signaling through the gateway: join tokens work once, for their user only;
offers, answers and ICE go to the other members only; closed and expired rooms refuse."""

from __future__ import annotations

import asyncio
import hashlib
import time
import uuid

import pytest
from realtime_support import Socket, open_socket, publish

pytestmark = pytest.mark.integration

ROOMS = "/v1/messaging/calls/rooms"
# Right after a room or token is created its event may still be on its way to realtime.
IN_FLIGHT = {"unknown_room", "invalid_token"}


async def join(sock: Socket, room: str, token: str | None = None) -> dict:
    """call.join, retried while the room's events are in flight; the final answer."""
    for _ in range(60):
        frame = {"type": "call.join", "room_id": room, "ref": uuid.uuid4().hex}
        if token:
            frame["token"] = token
        await sock.send(frame)
        reply = await sock.expect(lambda f, r=frame["ref"]: f.get("ref") == r)
        if reply.get("code") not in IN_FLIGHT:
            return reply
        await asyncio.sleep(0.25)
    return reply


async def mint(api, owner, room: str, user) -> str:
    """A join token for user; retried while messaging has not yet seen the user."""
    for _ in range(100):
        resp = await api.post(
            f"{ROOMS}/{room}/tokens", json={"user_id": user.id}, headers=owner.auth
        )
        if resp.status_code != 404:
            break
        await asyncio.sleep(0.2)
    assert resp.status_code == 201, resp.text
    return str(resp.json()["token"])


async def test_two_clients_join_with_tokens_and_exchange_signaling(api, make_user):
    owner, guest, stranger = await make_user(), await make_user(), await make_user()
    resp = await api.post(ROOMS, json={"title": "مكالمة"}, headers=owner.auth)
    assert resp.status_code == 201, resp.text
    room = resp.json()["id"]
    owner_token, guest_token = (
        await mint(api, owner, room, owner),
        await mint(api, owner, room, guest),
    )

    o, g, s = await open_socket(owner), await open_socket(guest), await open_socket(stranger)
    second_guest_socket = await open_socket(guest)
    try:
        assert (await join(o, room, owner_token))["type"] == "call.joined"
        # A stranger holding someone else's token is refused and the token survives.
        refused = await join(s, room, guest_token)
        assert (refused["type"], refused["code"]) == ("error", "forbidden")
        joined = await join(g, room, guest_token)
        assert joined["type"] == "call.joined" and guest.id in joined["members"]
        assert (await o.expect("call.member_joined"))["user_id"] == guest.id
        # The token worked once.
        reuse = await join(second_guest_socket, room, guest_token)
        assert (reuse["type"], reuse["code"]) == ("error", "token_used")

        await o.send(
            {
                "type": "call.signal",
                "room_id": room,
                "kind": "offer",
                "payload": {"sdp": "v=0 offer"},
            }
        )
        offer = await g.expect("call.signal")
        assert (offer["from"], offer["kind"], offer["payload"]) == (
            owner.id,
            "offer",
            {"sdp": "v=0 offer"},
        )
        await g.send(
            {
                "type": "call.signal",
                "room_id": room,
                "kind": "answer",
                "to": owner.id,
                "payload": {"sdp": "v=0 answer"},
            }
        )
        assert (await o.expect("call.signal"))["kind"] == "answer"
        await g.send(
            {"type": "call.signal", "room_id": room, "kind": "ice", "payload": {"candidate": "c1"}}
        )
        assert (await o.expect("call.signal"))["payload"] == {"candidate": "c1"}

        await s.send({"type": "call.signal", "room_id": room, "kind": "offer", "payload": {}})
        assert (await s.expect("error"))["code"] == "not_joined"
        # The sender never hears itself; the stranger hears nothing.
        for sock in (s, second_guest_socket):
            while not sock.frames.empty():
                assert sock.frames.get_nowait().get("type") != "call.signal"

        resp = await api.delete(f"{ROOMS}/{room}", headers=owner.auth)
        assert resp.status_code in (200, 204), resp.text
        closed = await g.expect(lambda f: f.get("event_type") == "messaging.call.room_closed")
        assert closed["channel"] == f"call:{room}"
        late = await join(second_guest_socket, room)
        assert (late["type"], late["code"]) == ("error", "room_closed")
    finally:
        for sock in (o, g, s, second_guest_socket):
            await sock.close()


async def test_expired_room_refuses_its_tokens(make_user):
    owner, guest = await make_user(), await make_user()
    room = str(uuid.uuid4())
    soon = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 1))
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    token = uuid.uuid4().hex

    await publish("messaging.call.v1", "messaging.call.room_created", room, {
        "room_id": room, "owner_id": owner.id, "title": None, "created_at": now, "expires_at": soon,
    })  # fmt: skip
    await publish("messaging.call.v1", "messaging.call.token_issued", room, {
        "room_id": room, "user_id": guest.id, "expires_at": soon,
        "token_sha256": hashlib.sha256(token.encode()).hexdigest(),
    })  # fmt: skip
    await asyncio.sleep(2.2)
    g = await open_socket(guest)
    try:
        reply = await join(g, room, token)
        assert (reply["type"], reply["code"]) == ("error", "room_expired")
    finally:
        await g.close()
