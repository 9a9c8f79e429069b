from __future__ import annotations

import uuid

import httpx
import pytest
from fastapi import FastAPI

from contracts import validate

from .conftest import Person, fan_out, home_ids, outbox, post

pytestmark = pytest.mark.integration


async def _community(client: httpx.AsyncClient, owner: Person, **body) -> dict:
    slug = f"c-{uuid.uuid4().hex[:10]}"
    resp = await client.post(
        "/communities",
        json={
            "slug": slug,
            "name": "مجتمع",
            "category": "tech",
            "tags": ["#برمجة", "Python"],
            **body,
        },
        headers=owner.auth,
    )
    assert resp.status_code == 201, resp.text
    return resp.json()


async def test_create_join_leave_with_roles_and_events(
    client: httpx.AsyncClient, app: FastAPI, person
) -> None:
    owner, member = await person(), await person()
    community = await _community(client, owner)
    assert community["my_role"] == "owner" and community["member_count"] == 1
    assert community["tags"] == ["برمجة", "python"]
    cid = community["id"]
    for _ in range(2):
        resp = await client.post(f"/communities/{cid}/membership", headers=member.auth)
        assert resp.status_code == 200 and resp.json()["role"] == "member"
    assert (await client.get(f"/communities/{cid}")).json()["member_count"] == 2
    # members cannot change settings; the owner appoints moderators, who can
    patch = {"description": "وصف جديد"}
    assert (
        await client.patch(f"/communities/{cid}", json=patch, headers=member.auth)
    ).status_code == 403
    resp = await client.put(
        f"/communities/{cid}/members/{member.id}", json={"role": "moderator"}, headers=owner.auth
    )
    assert resp.status_code == 200
    assert (
        await client.patch(f"/communities/{cid}", json=patch, headers=member.auth)
    ).status_code == 200
    assert (
        await client.delete(f"/communities/{cid}/membership", headers=owner.auth)
    ).status_code == 409
    assert (
        await client.delete(f"/communities/{cid}/membership", headers=member.auth)
    ).status_code == 200
    assert (await client.get(f"/communities/{cid}")).json()["member_count"] == 1
    events = await outbox(app, cid)
    assert [t for t, _ in events] == [
        "content.community.created",
        "content.community.member_joined",
        "content.community.member_joined",
        "content.community.member_joined",
        "content.community.updated",
        "content.community.member_left",
    ]
    for event_type, data in events:
        validate(event_type, data)
    assert events[3][1]["role"] == "moderator"
    dup = await client.post(
        "/communities", json={"slug": community["slug"], "name": "x"}, headers=owner.auth
    )
    assert dup.status_code == 409


async def test_private_community_content_never_reaches_outsiders(
    client: httpx.AsyncClient, app: FastAPI, person
) -> None:
    owner, member, outsider = await person(), await person(), await person()
    community = await _community(client, owner, visibility="private")
    cid = community["id"]
    assert (
        await client.post(f"/communities/{cid}/membership", headers=outsider.auth)
    ).status_code == 403
    resp = await client.put(f"/communities/{cid}/members/{member.id}", json={}, headers=owner.auth)
    assert resp.status_code == 200
    public_in_private = await client.post(
        "/posts",
        json={"text": "x", "community_id": cid, "visibility": "public"},
        headers=owner.auth,
    )
    assert public_in_private.status_code == 422
    outsider_post = await client.post(
        "/posts", json={"text": "x", "community_id": cid}, headers=outsider.auth
    )
    assert outsider_post.status_code == 403
    secret = await post(client, owner, "سر المجتمع", community_id=cid)
    assert secret["visibility"] == "community"
    await fan_out(app, secret["id"])
    sid = secret["id"]
    assert (await client.get(f"/posts/{sid}", headers=member.auth)).status_code == 200
    assert await home_ids(client, member) == [sid]
    assert (await client.get(f"/posts/{sid}", headers=outsider.auth)).status_code == 404
    assert (await client.get(f"/posts/{sid}")).status_code == 404
    assert (await client.get(f"/communities/{cid}/posts", headers=outsider.auth)).status_code == 403
    assert (await client.get(f"/users/{owner.id}/posts", headers=outsider.auth)).json()[
        "items"
    ] == []
    assert await home_ids(client, outsider) == []
    assert (
        await client.get(f"/communities/{cid}/members", headers=outsider.auth)
    ).status_code == 403
    feed = (await client.get(f"/communities/{cid}/posts", headers=member.auth)).json()
    assert [p["id"] for p in feed["items"]] == [sid]
    assert (
        await client.post(f"/posts/{sid}/comments", json={"text": "x"}, headers=outsider.auth)
    ).status_code == 404
    # a member who leaves loses access
    await client.delete(f"/communities/{cid}/membership", headers=member.auth)
    assert (await client.get(f"/posts/{sid}", headers=member.auth)).status_code == 404
    [(_, data)] = [e for e in await outbox(app, sid)]
    assert data["community_visibility"] == "private"


async def test_communities_list_by_category_and_tag(client: httpx.AsyncClient, person) -> None:
    owner = await person()
    tag = f"tag{uuid.uuid4().hex[:6]}"
    made = await _community(client, owner, tags=[tag], category=f"cat-{tag}")
    listed = (await client.get("/communities", params={"tag": tag})).json()
    assert [c["id"] for c in listed["items"]] == [made["id"]]
    listed = (await client.get("/communities", params={"category": f"cat-{tag}"})).json()
    assert [c["id"] for c in listed["items"]] == [made["id"]]
    mine = (await client.get("/communities", params={"mine": True}, headers=owner.auth)).json()
    assert made["id"] in [c["id"] for c in mine["items"]]
    assert (await client.get(f"/communities/by-slug/{made['slug']}")).json()["id"] == made["id"]


async def test_a_retried_community_creation_creates_one_community(
    client: httpx.AsyncClient, app: FastAPI, person
) -> None:
    owner = await person()
    body = {"slug": f"c-{uuid.uuid4().hex[:10]}", "name": "مرة", "category": "tech"}
    headers = {**owner.auth, "Idempotency-Key": "community-1"}
    first = await client.post("/communities", json=body, headers=headers)
    again = await client.post("/communities", json=body, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.json()["id"] == first.json()["id"]
    assert again.headers["idempotent-replayed"] == "true"
    assert [t for t, _ in await outbox(app, first.json()["id"])] == [
        "content.community.created",
        "content.community.member_joined",  # the owner; once, not per retry
    ]
    # Without the key the same body is a new request: the slug is taken.
    assert (await client.post("/communities", json=body, headers=owner.auth)).status_code == 409
