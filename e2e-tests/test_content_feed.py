"""Content through the gateway: posts reach followers' home timelines, edits and deletes
show everywhere, private communities and blocks hold, and bad input is a clear 4xx."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from e2e_support import User, data_of, headers_of

from contracts import validate_event

pytestmark = pytest.mark.integration

C = "/v1/content"


async def eventually(check: Callable[[], Awaitable[bool]], within: float = 15.0) -> None:
    """Poll ``check`` until it holds: the pipeline (outbox, Kafka, consumers) is async."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not await check():
        if loop.time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.1)


async def home(api: httpx.AsyncClient, user: User, **params: Any) -> list[dict]:
    resp = await api.get(f"{C}/timeline/home", headers=user.auth, params=params)
    assert resp.status_code == 200, resp.text
    return list(resp.json()["items"])


async def make_post(api: httpx.AsyncClient, user: User, **body: Any) -> dict:
    resp = await api.post(f"{C}/posts", json=body, headers=user.auth)
    assert resp.status_code == 201, resp.text
    return dict(resp.json())


async def test_a_retried_post_with_an_idempotency_key_is_published_once(
    api: httpx.AsyncClient, make_user, tail
) -> None:
    author = await make_user()
    posts_topic = await tail("content.post.v1")
    headers = {**author.auth, "Idempotency-Key": str(uuid.uuid4())}
    body = {"text": f"مرة واحدة {uuid.uuid4().hex[:6]}"}
    answers = [await api.post(f"{C}/posts", json=body, headers=headers) for _ in range(3)]
    assert [a.status_code for a in answers] == [201, 201, 201]
    assert len({a.json()["id"] for a in answers}) == 1
    assert [a.headers.get("idempotent-replayed") for a in answers] == [None, "true", "true"]
    pid = answers[0].json()["id"]
    records = await posts_topic.collect(lambda r: r.key == pid.encode(), settle=1.0)
    assert [headers_of(r)["ce_type"] for r in records] == ["content.post.created"]
    reused = await api.post(f"{C}/posts", json={"text": "another"}, headers=headers)
    assert reused.status_code == 422
    assert reused.headers["content-type"].startswith("application/problem+json")


async def test_post_reaches_follower_timeline_then_edit_and_delete_show_everywhere(
    api: httpx.AsyncClient, make_user, tail
) -> None:
    author, fan, stranger = await make_user(), await make_user(), await make_user()
    resp = await api.post(f"/v1/identity/users/{author.id}/follow", headers=fan.auth)
    assert resp.status_code == 200
    posts_topic = await tail("content.post.v1")

    # Whether content learns of the follow before or after the post, the post ends up in
    # the fan's home: fan-out pushes it, or the follow backfills the author's recent posts.
    created = await make_post(
        api, author, text=f"أهلاً @{fan.username} #تجربة_{uuid.uuid4().hex[:6]}"
    )
    pid = created["id"]

    async def in_home() -> bool:
        return pid in [p["id"] for p in await home(api, fan)]

    await eventually(in_home)
    assert pid not in [p["id"] for p in await home(api, stranger)]
    records = await posts_topic.collect(lambda r: r.key == pid.encode(), settle=0.5)
    assert [headers_of(r)["ce_type"] for r in records] == ["content.post.created"]
    event = {
        "topic": records[0].topic,
        "key": records[0].key.decode(),
        "headers": headers_of(records[0]),
        "data": data_of(records[0]),
    }
    validate_event(event)

    edited = await api.patch(f"{C}/posts/{pid}", json={"text": "نص معدّل"}, headers=author.auth)
    assert edited.status_code == 200 and edited.json()["edited_at"]
    read = await api.get(f"{C}/posts/{pid}", headers=fan.auth)
    assert read.status_code == 200 and read.json()["text"] == "نص معدّل"
    assert [p["text"] for p in await home(api, fan) if p["id"] == pid] == ["نص معدّل"]

    assert (await api.delete(f"{C}/posts/{pid}", headers=author.auth)).status_code == 204
    assert (await api.get(f"{C}/posts/{pid}", headers=fan.auth)).status_code == 404
    assert pid not in [p["id"] for p in await home(api, fan)]
    mine = (await api.get(f"{C}/users/{author.id}/posts")).json()["items"]
    assert pid not in [p["id"] for p in mine]
    deleted = await posts_topic.collect(
        lambda r: r.key == pid.encode() and headers_of(r)["ce_type"] == "content.post.deleted",
        settle=0.2,
    )
    assert len(deleted) == 1


async def test_private_community_post_is_never_visible_to_outsiders(
    api: httpx.AsyncClient, make_user
) -> None:
    owner, member, outsider = await make_user(), await make_user(), await make_user()
    slug = f"e2e-{uuid.uuid4().hex[:10]}"
    resp = await api.post(
        f"{C}/communities",
        json={"slug": slug, "name": "دائرة خاصة", "visibility": "private"},
        headers=owner.auth,
    )
    assert resp.status_code == 201, resp.text
    cid = resp.json()["id"]
    added = await api.put(f"{C}/communities/{cid}/members/{member.id}", json={}, headers=owner.auth)
    assert added.status_code == 200
    joined = await api.post(f"{C}/communities/{cid}/membership", headers=outsider.auth)
    assert joined.status_code == 403
    # The outsider follows the owner: following must not open the community.
    await api.post(f"/v1/identity/users/{owner.id}/follow", headers=outsider.auth)
    secret = await make_post(api, owner, text="سر", community_id=cid)
    sid = secret["id"]

    async def member_sees() -> bool:
        return sid in [p["id"] for p in await home(api, member)]

    await eventually(member_sees)
    assert (await api.get(f"{C}/posts/{sid}", headers=outsider.auth)).status_code == 404
    assert (await api.get(f"{C}/posts/{sid}")).status_code == 404
    assert (await api.get(f"{C}/communities/{cid}/posts", headers=outsider.auth)).status_code == 403
    assert sid not in [p["id"] for p in await home(api, outsider)]
    owner_posts = (await api.get(f"{C}/users/{owner.id}/posts", headers=outsider.auth)).json()
    assert sid not in [p["id"] for p in owner_posts["items"]]
    comment = await api.post(f"{C}/posts/{sid}/comments", json={"text": "x"}, headers=outsider.auth)
    assert comment.status_code == 404


async def test_blocked_user_cannot_see_or_interact(api: httpx.AsyncClient, make_user) -> None:
    blocker, blocked = await make_user(), await make_user()
    pid = (await make_post(api, blocker, text="قبل الحظر"))["id"]
    assert (await api.get(f"{C}/posts/{pid}", headers=blocked.auth)).status_code == 200
    resp = await api.post(f"/v1/identity/users/{blocked.id}/block", headers=blocker.auth)
    assert resp.status_code == 200

    async def hidden() -> bool:
        return (await api.get(f"{C}/posts/{pid}", headers=blocked.auth)).status_code == 404

    await eventually(hidden)
    react = await api.put(f"{C}/posts/{pid}/reactions/like", headers=blocked.auth)
    assert react.status_code == 404
    comment = await api.post(f"{C}/posts/{pid}/comments", json={"text": "x"}, headers=blocked.auth)
    assert comment.status_code == 404
    listed = await api.get(f"{C}/users/{blocker.id}/posts", headers=blocked.auth)
    assert listed.status_code == 200 and listed.json()["items"] == []


async def test_comments_and_reactions_flow_with_counts(api: httpx.AsyncClient, make_user) -> None:
    author, fan = await make_user(), await make_user()
    pid = (await make_post(api, author, text="ما رأيكم؟"))["id"]
    top = await api.post(f"{C}/posts/{pid}/comments", json={"text": "رائع"}, headers=fan.auth)
    assert top.status_code == 201
    reply = await api.post(
        f"{C}/posts/{pid}/comments",
        json={"text": "شكراً", "parent_id": top.json()["id"]},
        headers=author.auth,
    )
    assert reply.status_code == 201
    for _ in range(2):
        resp = await api.put(f"{C}/posts/{pid}/reactions/love", headers=fan.auth)
        assert resp.status_code == 200 and resp.json()["counts"] == {"love": 1}
    body = (await api.get(f"{C}/posts/{pid}")).json()
    assert body["comment_count"] == 2 and body["reaction_counts"] == {"love": 1}
