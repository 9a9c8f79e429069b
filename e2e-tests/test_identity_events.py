"""Identity's events reach Kafka exactly as the contracts say, and never get lost."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from e2e_support import data_of, headers_of, new_credentials, register, stack, wait_for_kafka

import contracts

pytestmark = pytest.mark.integration

USER_TOPIC = "identity.user.v1"
GRAPH_TOPIC = "identity.graph.v1"


async def test_registering_through_the_gateway_publishes_exactly_one_valid_event(api, tail):
    t = await tail(USER_TOPIC)
    creds, body = await register(api)

    records = await t.collect(lambda r: data_of(r).get("username") == creds["username"])

    assert len(records) == 1
    record = records[0]
    headers = headers_of(record)
    contracts.validate_event(
        {"topic": record.topic, "key": record.key, "headers": record.headers, "data": record.value}
    )
    assert headers["ce_type"] == "identity.user.registered"
    assert headers["ce_source"] == "identity"
    assert headers["ce_subject"] == str(body["id"]) == record.key.decode()
    assert headers["content-type"] == "application/json"
    assert "email" not in data_of(record)


async def test_follow_and_block_events_are_keyed_by_the_acting_user(api, tail, make_user):
    t = await tail(GRAPH_TOPIC)
    alice, bob = await make_user(), await make_user()

    assert (await api.post(f"/v1/identity/users/{bob.id}/follow", headers=alice.auth)).is_success
    assert (await api.post(f"/v1/identity/users/{alice.id}/block", headers=bob.auth)).is_success

    records = await t.collect(lambda r: r.key.decode() in (alice.id, bob.id), settle=2)
    types = [headers_of(r)["ce_type"] for r in records]
    assert types.count("identity.follow.created") == 1
    assert types.count("identity.block.created") == 1
    # The block removed alice's follow of bob.
    assert types.count("identity.follow.removed") == 1
    for r in records:
        contracts.validate_event(
            {"topic": r.topic, "key": r.key, "headers": r.headers, "data": r.value}
        )


async def test_registrations_succeed_while_kafka_is_down_and_their_events_arrive_later(api, tail):
    t = await tail(USER_TOPIC)
    stack("ctl", "stop", "servers:kafka")
    try:
        usernames = []
        for _ in range(3):
            creds = new_credentials()
            resp = await api.post("/v1/identity/auth/register", json=creds)
            assert resp.status_code == 201, resp.text
            usernames.append(creds["username"])
    finally:
        stack("ctl", "start", "servers:kafka")
        await wait_for_kafka()

    records = []
    for _ in range(120):  # the broker restarts, the relay and this reader reconnect
        records += await t.collect(
            lambda r: data_of(r).get("username") in usernames, timeout=1, settle=0.5
        )
        if len({data_of(r)["username"] for r in records}) == 3:
            break
    got = sorted(data_of(r)["username"] for r in records)
    assert got == sorted(usernames)


async def test_identity_answers_readyz_through_its_own_port():
    async with httpx.AsyncClient(timeout=5) as client:
        for _ in range(60):
            resp = await client.get("http://127.0.0.1:8201/readyz")
            if resp.status_code == 200:
                break
            await asyncio.sleep(1)
    assert resp.status_code == 200, resp.text
