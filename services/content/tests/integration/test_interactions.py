from __future__ import annotations

import uuid

import httpx
import pytest
from fastapi import FastAPI

from contracts import validate

from .conftest import Person, block, outbox, post

pytestmark = pytest.mark.integration


async def test_threaded_comments_keep_counts_consistent(
    client: httpx.AsyncClient, app: FastAPI, person
) -> None:
    author, a, b = await person(), await person(), await person()
    created = await post(client, author, "ناقشوا")
    pid = created["id"]
    top = (
        await client.post(f"/posts/{pid}/comments", json={"text": "أولاً"}, headers=a.auth)
    ).json()
    reply = await client.post(
        f"/posts/{pid}/comments",
        json={"text": f"@{a.username} رد", "parent_id": top["id"]},
        headers=b.auth,
    )
    assert reply.status_code == 201 and reply.json()["mentions"] == [a.id]
    assert (await client.get(f"/posts/{pid}")).json()["comment_count"] == 2
    listing = (await client.get(f"/posts/{pid}/comments")).json()
    assert [c["id"] for c in listing["items"]] == [top["id"]] and listing["items"][0][
        "reply_count"
    ] == 1
    replies = (await client.get(f"/posts/{pid}/comments", params={"parent_id": top["id"]})).json()
    assert [c["id"] for c in replies["items"]] == [reply.json()["id"]]

    too_long = await client.post(f"/posts/{pid}/comments", json={"text": "x" * 201}, headers=a.auth)
    assert too_long.status_code == 422
    edited = await client.patch(f"/comments/{top['id']}", json={"text": "معدّل"}, headers=a.auth)
    assert edited.status_code == 200 and edited.json()["edited_at"] is not None
    assert (
        await client.patch(f"/comments/{top['id']}", json={"text": "no"}, headers=b.auth)
    ).status_code == 403

    # Deleting the parent keeps it as a placeholder while its reply lives.
    assert (await client.delete(f"/comments/{top['id']}", headers=a.auth)).status_code == 204
    listing = (await client.get(f"/posts/{pid}/comments")).json()
    assert listing["comment_count"] == 1
    assert listing["items"][0]["deleted"] is True and listing["items"][0]["text"] == ""
    # The post's author may delete any comment on it.
    assert (
        await client.delete(f"/comments/{reply.json()['id']}", headers=author.auth)
    ).status_code == 204
    assert (await client.get(f"/posts/{pid}")).json()["comment_count"] == 0
    assert (await client.get(f"/posts/{pid}/comments")).json()["items"] == []
    events = await outbox(app, pid)
    comment_events = [(t, d) for t, d in events if t.startswith("content.comment")]
    assert [t for t, _ in comment_events] == [
        "content.comment.created",
        "content.comment.created",
        "content.comment.updated",
        "content.comment.deleted",
        "content.comment.deleted",
    ]
    assert [d["comment_count"] for _, d in comment_events] == [1, 2, 2, 1, 0]
    for event_type, data in comment_events:
        validate(event_type, data)


async def test_reactions_are_idempotent_and_unknown_kinds_are_rejected(
    client: httpx.AsyncClient, app: FastAPI, person
) -> None:
    author, fan = await person(), await person()
    pid = (await post(client, author, "react"))["id"]
    for _ in range(2):
        resp = await client.put(f"/posts/{pid}/reactions/love", headers=fan.auth)
        assert resp.status_code == 200 and resp.json()["counts"] == {"love": 1}
    await client.put(f"/posts/{pid}/reactions/like", headers=fan.auth)
    assert (await client.get(f"/posts/{pid}")).json()["reaction_counts"] == {"love": 1, "like": 1}
    for _ in range(2):
        resp = await client.delete(f"/posts/{pid}/reactions/love", headers=fan.auth)
        assert resp.status_code == 200 and resp.json()["counts"] == {"like": 1}
    bad = await client.put(f"/posts/{pid}/reactions/dislike", headers=fan.auth)
    assert bad.status_code == 422
    assert bad.headers["content-type"].startswith("application/problem+json")
    reaction_events = [(t, d) for t, d in await outbox(app, pid) if "reaction" in t]
    assert [t for t, _ in reaction_events] == [
        "content.reaction.added", "content.reaction.added", "content.reaction.removed",
    ]  # fmt: skip
    for event_type, data in reaction_events:
        validate(event_type, data)


async def test_comment_reactions_respect_blocks_with_the_comment_author(
    client: httpx.AsyncClient, app: FastAPI, person
) -> None:
    author, commenter, other = await person(), await person(), await person()
    pid = (await post(client, author, "open post"))["id"]
    cid = (
        await client.post(f"/posts/{pid}/comments", json={"text": "c"}, headers=commenter.auth)
    ).json()["id"]
    resp = await client.put(f"/comments/{cid}/reactions/laugh", headers=other.auth)
    assert resp.status_code == 200 and resp.json()["counts"] == {"laugh": 1}
    await block(app, commenter, other)
    assert (
        await client.put(f"/comments/{cid}/reactions/like", headers=other.auth)
    ).status_code == 403
    reply = await client.post(
        f"/posts/{pid}/comments", json={"text": "r", "parent_id": cid}, headers=other.auth
    )
    assert reply.status_code == 403
    # other no longer sees the commenter's comments
    assert (await client.get(f"/posts/{pid}/comments", headers=other.auth)).json()["items"] == []


async def test_post_cache_is_invalidated_by_every_change(
    client: httpx.AsyncClient, app: FastAPI, rt, person
) -> None:
    author: Person = await person()
    fan: Person = await person()
    pid = (await post(client, author, "cached"))["id"]
    await client.get(f"/posts/{pid}")
    hits = rt.posts.hits
    await client.get(f"/posts/{pid}")
    assert rt.posts.hits == hits + 1
    await client.put(f"/posts/{pid}/reactions/wow", headers=fan.auth)
    assert (await client.get(f"/posts/{pid}")).json()["reaction_counts"] == {"wow": 1}
    await client.patch(f"/posts/{pid}", json={"text": "changed"}, headers=author.auth)
    assert (await client.get(f"/posts/{pid}")).json()["text"] == "changed"
    await client.delete(f"/posts/{pid}", headers=author.auth)
    assert (await client.get(f"/posts/{pid}")).status_code == 404


async def test_concurrent_cache_misses_load_the_post_once(
    client: httpx.AsyncClient, app: FastAPI, rt, person
) -> None:
    import asyncio
    import uuid as uuid_mod

    author = await person()
    pid = uuid_mod.UUID((await post(client, author, "stampede"))["id"])
    loads = 0

    async def load():
        nonlocal loads
        loads += 1
        await asyncio.sleep(0.1)
        return {"post_id": str(pid)}

    results = await asyncio.gather(*(rt.posts.get(pid, load) for _ in range(10)))
    assert loads == 1 and all(r == {"post_id": str(pid)} for r in results)


async def test_views_are_buffered_and_flushed_once(
    client: httpx.AsyncClient, app: FastAPI, rt, person
) -> None:
    from content.workers import flush_views_once

    author = await person()
    pid = (await post(client, author, "watch me"))["id"]
    for _ in range(3):
        assert (await client.post(f"/posts/{pid}/views")).status_code == 202
    await client.get(f"/posts/{pid}")
    await flush_views_once(rt, app.state.db)
    await flush_views_once(rt, app.state.db)
    await rt.posts.invalidate(uuid.UUID(pid))
    body = (await client.get(f"/posts/{pid}")).json()
    assert body["view_count"] == 4 and body["hot_score"] > 0
    # A batch already applied (crash between commit and cleanup) is not counted twice.
    from content.reactions.views import PENDING_KEY

    await rt.redis.hset(PENDING_KEY, pid, 5)  # replaces the view the GET just counted
    batch = await rt.views.take_batch()
    assert batch is not None
    await flush_views_once(rt, app.state.db)
    await rt.redis.hset(batch, pid, 5)
    await flush_views_once(rt, app.state.db)
    async with app.state.db.session() as session:
        from sqlalchemy import text

        count = await session.scalar(text("SELECT view_count FROM posts WHERE id = :p"), {"p": pid})
    assert count == 4 + 5  # the re-flushed batch counted once


async def test_cache_invalidation_runs_after_the_change_committed(
    client: httpx.AsyncClient, app: FastAPI, rt, person, monkeypatch
) -> None:
    from sqlalchemy import text

    author = await person()
    pid = (await post(client, author, "before"))["id"]
    seen: list[str] = []
    original = rt.posts.invalidate

    async def spying_invalidate(*post_ids):
        # A separate connection sees only committed data.
        async with app.state.db.session() as session:
            seen.append(
                await session.scalar(text("SELECT text FROM posts WHERE id = :p"), {"p": pid})
            )
        await original(*post_ids)

    monkeypatch.setattr(rt.posts, "invalidate", spying_invalidate)
    resp = await client.patch(f"/posts/{pid}", json={"text": "after"}, headers=author.auth)
    assert resp.status_code == 200
    assert seen == ["after"]
    failed = await client.patch(f"/posts/{pid}", json={"text": "x" * 501}, headers=author.auth)
    assert failed.status_code == 422 and seen == ["after"]


async def test_the_view_flusher_prunes_old_batch_guards(app: FastAPI, rt) -> None:
    from datetime import UTC, datetime, timedelta

    from content.posts.service import VIEWS_GROUP
    from content.workers import ViewFlusher
    from sqlalchemy import text

    old, fresh = uuid.uuid4(), uuid.uuid4()
    async with app.state.db.session() as session:
        for batch, at in (
            (old, datetime.now(UTC) - timedelta(days=30)),
            (fresh, datetime.now(UTC)),
        ):
            await session.execute(
                text(
                    "INSERT INTO inbox (consumer_group, event_id, applied_at) VALUES (:g, :id, :at)"
                ),
                {"g": VIEWS_GROUP, "id": batch, "at": at},
            )
    await ViewFlusher(rt, app.state.db).round()  # flush, then (due at once) prune
    async with app.state.db.session() as session:
        left = set(
            (
                await session.execute(
                    text("SELECT event_id FROM inbox WHERE event_id IN (:a, :b)"),
                    {"a": old, "b": fresh},
                )
            ).scalars()
        )
    assert left == {fresh}
