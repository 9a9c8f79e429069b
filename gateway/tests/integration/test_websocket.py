from __future__ import annotations

import json

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from .conftest import RunningGateway, Stack

pytestmark = pytest.mark.integration


async def test_text_and_binary_frames_are_relayed(gateway: RunningGateway):
    async with connect(gateway.ws_url + "/v1/realtime/ws") as ws:
        await ws.send("مرحبا")
        assert await ws.recv() == "مرحبا"
        await ws.send(b"\x00\x01\xff")
        assert await ws.recv() == b"\x00\x01\xff"


async def test_subprotocol_and_authorization_reach_upstream(gateway: RunningGateway, stack: Stack):
    token = stack.keys.token()
    async with connect(
        gateway.ws_url + "/v1/realtime/ws?room=1",
        subprotocols=["chat.v1"],  # type: ignore[list-item]
        additional_headers={"Authorization": f"Bearer {token}", "X-Request-ID": "ws-req-0001"},
    ) as ws:
        assert ws.subprotocol == "chat.v1"
        await ws.send("headers")
        seen = {k.lower(): v for k, v in json.loads(await ws.recv()).items()}
    assert seen["authorization"] == f"Bearer {token}"
    assert seen["sec-websocket-protocol"] == "chat.v1"
    assert seen["x-request-id"] == "ws-req-0001"
    assert seen["traceparent"].startswith("00-")


async def test_upstream_close_code_reaches_client(gateway: RunningGateway):
    async with connect(gateway.ws_url + "/v1/realtime/ws") as ws:
        await ws.send("close-4001")
        with pytest.raises(ConnectionClosed) as closed:
            await ws.recv()
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 4001
    assert closed.value.rcvd.reason == "bye from upstream"


async def test_client_close_is_passed_upstream_and_session_ends(gateway: RunningGateway):
    ws = await connect(gateway.ws_url + "/v1/realtime/ws")
    await ws.send("ping")
    assert await ws.recv() == "ping"
    await ws.close(4002, "client done")
    assert ws.close_code == 4002


async def test_down_realtime_upstream_is_refused_as_unavailable(gateway: RunningGateway):
    with pytest.raises(InvalidStatus) as err:
        async with connect(gateway.ws_url + "/v1/realtimedown/ws") as ws:
            await ws.recv()
    response = err.value.response
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    assert json.loads(response.body)["status"] == 503


async def test_bad_token_on_upgrade_is_refused(gateway: RunningGateway):
    with pytest.raises(InvalidStatus) as err:
        async with connect(
            gateway.ws_url + "/v1/realtime/ws",
            additional_headers={"Authorization": "Bearer junk"},
        ) as ws:
            await ws.recv()
    assert err.value.response.status_code == 401


async def test_unknown_ws_path_is_refused(gateway: RunningGateway):
    with pytest.raises(InvalidStatus) as err:
        async with connect(gateway.ws_url + "/v1/nosuch/ws") as ws:
            await ws.recv()
    assert err.value.response.status_code == 404
