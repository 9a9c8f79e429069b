from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from contracts import validate

from .conftest import outbox_events, register

pytestmark = pytest.mark.integration


async def test_follow_is_idempotent_and_records_one_event(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    alice, bob = await register(client), await register(client)
    for _ in range(2):
        resp = await client.post(f"/users/{bob.id}/follow", headers=alice.auth)
        assert resp.status_code == 200 and resp.json()["following"] is True
    events = [e for e in await outbox_events(app, alice.id) if e[0].startswith("identity.follow")]
    assert [t for t, _ in events] == ["identity.follow.created"]
    validate("identity.follow.created", events[0][1])
    assert events[0][1]["followee_id"] == bob.id
    followers = (await client.get(f"/users/{bob.id}/followers")).json()
    assert [u["id"] for u in followers["items"]] == [alice.id]
    assert (await client.delete(f"/users/{bob.id}/follow", headers=alice.auth)).status_code == 200
    assert (await client.delete(f"/users/{bob.id}/follow", headers=alice.auth)).status_code == 200
    types = [t for t, _ in await outbox_events(app, alice.id) if t.startswith("identity.follow")]
    assert types == ["identity.follow.created", "identity.follow.removed"]


async def test_cannot_follow_self_or_unknown_user(client: httpx.AsyncClient) -> None:
    me = await register(client)
    assert (await client.post(f"/users/{me.id}/follow", headers=me.auth)).status_code == 422
    unknown = "00000000-0000-7000-8000-000000000000"
    assert (await client.post(f"/users/{unknown}/follow", headers=me.auth)).status_code == 404
    assert (await client.post("/users/not-a-uuid/follow", headers=me.auth)).status_code == 422
    assert (await client.post(f"/users/{me.id}/follow")).status_code == 401


async def test_block_removes_follows_both_ways_and_forbids_following(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    alice, bob = await register(client), await register(client)
    await client.post(f"/users/{bob.id}/follow", headers=alice.auth)
    await client.post(f"/users/{alice.id}/follow", headers=bob.auth)
    resp = await client.post(f"/users/{bob.id}/block", headers=alice.auth)
    assert resp.status_code == 200 and resp.json()["blocking"] is True
    assert (await client.get(f"/users/{alice.id}/followers")).json()["items"] == []
    assert (await client.get(f"/users/{alice.id}/following")).json()["items"] == []
    assert (await client.post(f"/users/{alice.id}/follow", headers=bob.auth)).status_code == 403
    assert (await client.post(f"/users/{bob.id}/follow", headers=alice.auth)).status_code == 403

    alice_events = await outbox_events(app, alice.id)
    bob_events = await outbox_events(app, bob.id)
    assert ("identity.follow.removed", bob.id) in [
        (t, d.get("followee_id")) for t, d in alice_events
    ]
    assert ("identity.follow.removed", alice.id) in [
        (t, d.get("followee_id")) for t, d in bob_events
    ]
    blocks = [d for t, d in alice_events if t == "identity.block.created"]
    assert len(blocks) == 1 and blocks[0]["blocked_id"] == bob.id
    validate("identity.block.created", blocks[0])

    await client.post(f"/users/{bob.id}/block", headers=alice.auth)  # idempotent
    assert (await client.delete(f"/users/{bob.id}/block", headers=alice.auth)).status_code == 200
    types = [t for t, _ in await outbox_events(app, alice.id) if t.startswith("identity.block")]
    assert types == ["identity.block.created", "identity.block.removed"]
    assert (await client.post(f"/users/{alice.id}/follow", headers=bob.auth)).status_code == 200


async def test_followers_are_cursor_paginated_newest_first(client: httpx.AsyncClient) -> None:
    star = await register(client)
    fans = [await register(client) for _ in range(3)]
    for fan in fans:
        assert (await client.post(f"/users/{star.id}/follow", headers=fan.auth)).status_code == 200
    page1 = (await client.get(f"/users/{star.id}/followers", params={"limit": 2})).json()
    assert [u["id"] for u in page1["items"]] == [fans[2].id, fans[1].id]
    assert page1["next_cursor"]
    page2 = (
        await client.get(
            f"/users/{star.id}/followers", params={"limit": 2, "cursor": page1["next_cursor"]}
        )
    ).json()
    assert [u["id"] for u in page2["items"]] == [fans[0].id] and page2["next_cursor"] is None
    tampered = page1["next_cursor"][:-2] + (
        "AA" if not page1["next_cursor"].endswith("AA") else "BB"
    )
    resp = await client.get(f"/users/{star.id}/followers", params={"cursor": tampered})
    assert resp.status_code == 400
    following = (await client.get(f"/users/{fans[0].id}/following")).json()
    assert [u["id"] for u in following["items"]] == [star.id]
