"""Bad input on the realtime socket, through the gateway: each is closed or rejected
with a reason, and the node stays healthy."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest
from e2e_support import GATEWAY
from realtime_support import REALTIME, WS_GATEWAY, open_socket
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

pytestmark = pytest.mark.integration


async def assert_healthy(user) -> None:
    async with httpx.AsyncClient() as http:
        assert (await http.get(f"{REALTIME}/readyz")).status_code == 200
    sock = await open_socket(user)
    await sock.send({"type": "ping", "ref": "alive"})
    assert (await sock.expect("pong"))["ref"] == "alive"
    await sock.close()


@pytest.mark.parametrize(
    ("frame", "code", "reason"),
    [
        ("{not json", 1007, "malformed frame"),
        (json.dumps({"no_type": 1}), 1007, "malformed frame"),
        (b"\x00\x01binary", 1003, "binary frames are not supported"),
        (json.dumps({"type": "ping", "pad": "x" * 70_000}), 1009, ""),
    ],
    ids=["not-json", "no-type", "binary", "oversized"],
)
async def test_broken_frames_close_the_socket_with_a_reason(make_user, frame, code, reason):
    user = await make_user()
    sock = await open_socket(user)
    await sock.ws.send(frame)
    got_code, got_reason = await sock.closed()
    assert got_code == code
    assert reason in got_reason
    await assert_healthy(user)


async def test_unknown_types_are_rejected_then_repeated_abuse_closes(make_user):
    user = await make_user()
    sock = await open_socket(user)
    await sock.send({"type": "teleport", "ref": "t1"})
    error = await sock.expect("error")
    assert (error["code"], error["ref"]) == ("unknown_type", "t1")
    await sock.send({"type": "ping"})
    await sock.expect("pong")
    for _ in range(12):
        await sock.send({"type": "teleport"})
    assert await sock.closed() == (1008, "too many invalid frames")
    await assert_healthy(user)


async def test_flood_is_closed_for_rate_limit(make_user):
    user = await make_user()
    sock = await open_socket(user)
    for _ in range(200):
        await sock.ws.send(json.dumps({"type": "ping"}))
    assert await sock.closed() == (1008, "rate limit exceeded")
    await assert_healthy(user)


async def test_bad_or_missing_credentials_are_refused(make_user):
    with pytest.raises(InvalidStatus) as refused:
        await connect(WS_GATEWAY, subprotocols=["realtime.v1", "bearer.not-a-token"])
    assert refused.value.response.status_code == 401
    async with connect(WS_GATEWAY) as ws:
        await ws.send(json.dumps({"type": "subscribe", "channel": "post:x"}))
        await asyncio.wait_for(ws.wait_closed(), 10)
        assert ws.close_code == 1008 and "auth" in ws.close_reason
    # Another user's channel is refused even with a valid token.
    a, b = await make_user(), await make_user()
    sock = await open_socket(a)
    await sock.send({"type": "subscribe", "channel": f"user:{b.id}"})
    assert (await sock.expect("error"))["code"] == "forbidden"
    await sock.close()
    async with httpx.AsyncClient() as http:
        resp = await http.get(f"{GATEWAY}/v1/realtime")
    assert resp.status_code in (400, 404, 426)
