from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text

from contracts import validate

from .conftest import (
    Person,
    apply_identity,
    block,
    fan_out,
    follow,
    home_ids,
    now_iso,
    outbox,
    post,
)

pytestmark = pytest.mark.integration


async def test_post_extracts_arabic_hashtags_and_resolves_mentions_and_records_event(
    client: httpx.AsyncClient, app: FastAPI, person
) -> None:
    author: Person = await person()
    friend: Person = await person()
    body = await post(
        client, author, f"مرحبا @{friend.username.upper()} في #مِصـر و #Cairo @nobody_here"
    )
    assert body["hashtags"] == ["مصر", "cairo"]
    assert body["mentions"] == [friend.id]
    assert body["visibility"] == "public" and body["edited_at"] is None
    assert body["author"]["username"] == author.username
    events = await outbox(app, body["id"])
    assert [t for t, _ in events] == ["content.post.created"]
    validate("content.post.created", events[0][1])
    assert events[0][1]["mentions"] == [friend.id]


async def test_too_long_or_empty_posts_are_rejected_with_a_problem(
    client: httpx.AsyncClient, person
) -> None:
    author = await person()
    resp = await client.post("/posts", json={"text": "ب" * 501}, headers=author.auth)
    assert resp.status_code == 422
    assert resp.headers["content-type"].startswith("application/problem+json")
    assert "501" in resp.json()["detail"] and resp.json()["limit"] == 500
    assert (
        await client.post("/posts", json={"text": "   "}, headers=author.auth)
    ).status_code == 422
    assert (await client.post("/posts", json={"text": "x"})).status_code == 401
    bad_visibility = {"text": "x", "visibility": "community"}
    assert (
        await client.post("/posts", json=bad_visibility, headers=author.auth)
    ).status_code == 422


async def test_follower_sees_post_in_home_edit_shows_new_text_delete_removes_it_everywhere(
    client: httpx.AsyncClient, app: FastAPI, person
) -> None:
    author, fan, stranger = await person(), await person(), await person()
    await follow(app, fan, author)
    created = await post(client, author, "النسخة الأولى")
    await fan_out(app, created["id"])
    assert await home_ids(client, fan) == [created["id"]]
    assert await home_ids(client, stranger) == []
    assert (await client.get(f"/posts/{created['id']}", headers=fan.auth)).json()[
        "text"
    ] == "النسخة الأولى"

    resp = await client.patch(
        f"/posts/{created['id']}", json={"text": "النسخة الثانية #جديد"}, headers=author.auth
    )
    assert resp.status_code == 200 and resp.json()["edited_at"] is not None
    read = (await client.get(f"/posts/{created['id']}", headers=fan.auth)).json()
    assert read["text"] == "النسخة الثانية #جديد" and read["hashtags"] == ["جديد"]
    other_edit = await client.patch(f"/posts/{created['id']}", json={"text": "x"}, headers=fan.auth)
    assert other_edit.status_code == 403

    assert (await client.delete(f"/posts/{created['id']}", headers=author.auth)).status_code == 204
    await fan_out(app, created["id"])
    assert (await client.get(f"/posts/{created['id']}", headers=author.auth)).status_code == 404
    assert await home_ids(client, fan) == []
    assert (await client.get(f"/users/{author.id}/posts")).json()["items"] == []
    types = [t for t, _ in await outbox(app, created["id"])]
    assert types == ["content.post.created", "content.post.updated", "content.post.deleted"]
    for event_type, data in await outbox(app, created["id"]):
        validate(event_type, data)


async def test_blocked_user_sees_nothing_of_the_blocker_and_cannot_interact(
    client: httpx.AsyncClient, app: FastAPI, person
) -> None:
    blocker, blocked = await person(), await person()
    await follow(app, blocked, blocker)
    created = await post(client, blocker, "not for you")
    await fan_out(app, created["id"])
    assert await home_ids(client, blocked) == [created["id"]]
    await block(app, blocker, blocked)
    assert await home_ids(client, blocked) == []
    pid = created["id"]
    assert (await client.get(f"/posts/{pid}", headers=blocked.auth)).status_code == 404
    assert (await client.get(f"/users/{blocker.id}/posts", headers=blocked.auth)).json()[
        "items"
    ] == []
    comment = await client.post(f"/posts/{pid}/comments", json={"text": "hi"}, headers=blocked.auth)
    assert comment.status_code == 404
    assert (
        await client.put(f"/posts/{pid}/reactions/like", headers=blocked.auth)
    ).status_code == 404
    # ...and the blocker does not see the blocked user's posts either.
    theirs = await post(client, blocked, "mine")
    assert (await client.get(f"/posts/{theirs['id']}", headers=blocker.auth)).status_code == 404


async def test_followers_only_post_is_hidden_from_non_followers(
    client: httpx.AsyncClient, app: FastAPI, person
) -> None:
    author, fan, stranger = await person(), await person(), await person()
    await follow(app, fan, author)
    created = await post(client, author, "close friends", visibility="followers")
    assert (await client.get(f"/posts/{created['id']}", headers=fan.auth)).status_code == 200
    assert (await client.get(f"/posts/{created['id']}", headers=stranger.auth)).status_code == 404
    assert (await client.get(f"/posts/{created['id']}")).status_code == 404
    listed = (await client.get(f"/users/{author.id}/posts", headers=stranger.auth)).json()
    assert listed["items"] == []


async def test_timelines_paginate_newest_first_and_reject_tampered_cursors(
    client: httpx.AsyncClient, app: FastAPI, person
) -> None:
    author, fan = await person(), await person()
    await follow(app, fan, author)
    ids = []
    for i in range(5):
        created = await post(client, author, f"post {i}")
        await fan_out(app, created["id"])
        ids.append(created["id"])
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = (await client.get("/timeline/home", headers=fan.auth, params=params)).json()
        seen += [p["id"] for p in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == list(reversed(ids))
    user_page = (await client.get(f"/users/{author.id}/posts", params={"limit": 3})).json()
    assert [p["id"] for p in user_page["items"]] == list(reversed(ids))[:3]
    nxt = user_page["next_cursor"]
    assert [
        p["id"]
        for p in (await client.get(f"/users/{author.id}/posts", params={"cursor": nxt})).json()[
            "items"
        ]
    ] == list(reversed(ids))[3:]
    tampered = nxt[:-3] + ("AAA" if not nxt.endswith("AAA") else "BBB")
    resp = await client.get(f"/users/{author.id}/posts", params={"cursor": tampered})
    assert resp.status_code == 400 and resp.json()["title"] == "Invalid cursor"
    wrong_list = await client.get("/timeline/home", headers=fan.auth, params={"cursor": nxt})
    assert wrong_list.status_code == 400


async def test_authors_over_the_fanout_limit_are_pulled_at_read_time(
    client: httpx.AsyncClient, app: FastAPI, rt, person
) -> None:
    star = await person()
    fans = [await person() for _ in range(4)]  # FANOUT_LIMIT is 3
    for fan in fans:
        await follow(app, fan, star)
        await home_ids(client, fan)  # build each home timeline now
    created = await post(client, star, "to my many fans")
    await fan_out(app, created["id"])
    page = await rt.timelines.page(fans[0].uid, max_score=None, offset=0, count=10)
    assert created["id"] not in [str(pid) for pid, _ in page]
    for fan in fans:
        assert await home_ids(client, fan) == [created["id"]]


async def test_home_timeline_survives_losing_redis_and_the_rebuild_restores_it(
    client: httpx.AsyncClient, app: FastAPI, rt, person
) -> None:
    from content.timelines.service import rebuild

    author, fan = await person(), await person()
    await follow(app, fan, author)
    first = await post(client, author, "one")
    second = await post(client, author, "two")
    await rt.redis.delete(f"content:home:{fan.id}", f"content:home:{fan.id}:built")
    assert await home_ids(client, fan) == [second["id"], first["id"]]
    await rt.redis.delete(f"content:home:{fan.id}")
    async with app.state.db.session() as session:
        assert await rebuild(session, rt, fan.uid) == 2
    assert await rt.timelines.size(fan.uid) == 2


async def test_hot_ranking_orders_by_engagement(
    client: httpx.AsyncClient, app: FastAPI, person
) -> None:
    author, fan, other = await person(), await person(), await person()
    await follow(app, fan, author)
    older = await post(client, author, "older but loved")
    newer = await post(client, author, "newer and quiet")
    for p in (older, newer):
        await fan_out(app, p["id"])
    for kind in ("like", "love", "wow"):
        for reactor in (fan, other):
            assert (
                await client.put(f"/posts/{older['id']}/reactions/{kind}", headers=reactor.auth)
            ).status_code == 200
    assert await home_ids(client, fan) == [newer["id"], older["id"]]
    assert await home_ids(client, fan, rank="hot") == [older["id"], newer["id"]]
    page = (
        await client.get("/timeline/home", headers=fan.auth, params={"rank": "hot", "limit": 1})
    ).json()
    nxt = (
        await client.get(
            "/timeline/home",
            headers=fan.auth,
            params={"rank": "hot", "cursor": page["next_cursor"]},
        )
    ).json()
    assert [p["id"] for p in nxt["items"]] == [newer["id"]]


async def test_a_retried_create_with_an_idempotency_key_publishes_one_post(
    client: httpx.AsyncClient, app: FastAPI, person
) -> None:
    author, other = await person(), await person()
    headers = {**author.auth, "Idempotency-Key": "post-retry-1"}
    first = await client.post("/posts", json={"text": "مرة واحدة فقط"}, headers=headers)
    again = await client.post("/posts", json={"text": "مرة واحدة فقط"}, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.json()["id"] == first.json()["id"]
    assert again.headers["idempotent-replayed"] == "true"
    assert [t for t, _ in await outbox(app, first.json()["id"])] == ["content.post.created"]
    # Another body under the same key is refused; another user's same key is theirs.
    changed = await client.post("/posts", json={"text": "نص آخر"}, headers=headers)
    assert changed.status_code == 422
    theirs = await client.post(
        "/posts",
        json={"text": "مرة واحدة فقط"},
        headers={**other.auth, "Idempotency-Key": "post-retry-1"},
    )
    assert theirs.status_code == 201 and theirs.json()["id"] != first.json()["id"]
    comment_headers = {**other.auth, "Idempotency-Key": "c-1"}
    path = f"/posts/{first.json()['id']}/comments"
    c1 = await client.post(path, json={"text": "تعليق"}, headers=comment_headers)
    c2 = await client.post(path, json={"text": "تعليق"}, headers=comment_headers)
    assert c1.status_code == c2.status_code == 201 and c1.json()["id"] == c2.json()["id"]
    post_now = (await client.get(f"/posts/{first.json()['id']}", headers=author.auth)).json()
    assert post_now["comment_count"] == 1


async def test_a_deleted_account_leaves_no_profile_or_posts_behind(
    client: httpx.AsyncClient, app: FastAPI, person
) -> None:
    author, reader = await person(), await person()
    created = await post(client, author, "وداعاً")
    await apply_identity(
        app, "identity.user.deleted", {"user_id": author.id, "deleted_at": now_iso()}
    )
    assert (await client.get(f"/posts/{created['id']}", headers=reader.auth)).status_code == 404
    async with app.state.db.session() as session:
        row = (
            await session.execute(
                text(
                    "SELECT username, username_key, display_name, avatar_url, deleted_at"
                    " FROM users WHERE id = :id"
                ),
                {"id": author.uid},
            )
        ).one()
    assert row[:4] == ("", "", "", None) and row.deleted_at is not None
