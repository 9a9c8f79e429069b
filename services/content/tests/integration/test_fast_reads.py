"""The transaction-free read paths (home, a user's posts, one post) answer exactly what
the general algorithm answers, and never show what the visibility rules hide, even when
the posts come from the cache."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from content.timelines import service as timelines
from fastapi import FastAPI

from .conftest import Person, block, fan_out, follow, post

pytestmark = pytest.mark.integration


async def _pages(client: httpx.AsyncClient, url: str, viewer: Person, limit: int) -> list[Any]:
    """Every page of a timeline read over HTTP: (ids, next cursor) per page."""
    pages, cursor = [], None
    while True:
        params: dict[str, Any] = {"limit": limit}
        if cursor:
            params["cursor"] = cursor
        resp = await client.get(url, params=params, headers=viewer.auth)
        assert resp.status_code == 200, resp.text
        body = resp.json()
        pages.append(([p["id"] for p in body["items"]], body["next_cursor"]))
        cursor = body["next_cursor"]
        if cursor is None:
            return pages


async def _general_pages(app: FastAPI, read: Any, limit: int) -> list[Any]:
    pages, cursor = [], None
    while True:
        async with app.state.db.session() as session:
            page = await read(session, cursor, limit)
        pages.append(([str(p.id) for p in page.items], page.next_cursor))
        cursor = page.next_cursor
        if cursor is None:
            return pages


async def _mixed_feed(client: httpx.AsyncClient, app: FastAPI, person: Any) -> tuple[Person, ...]:
    viewer, friend, close, blocker = await person(), await person(), await person(), await person()
    for other in (friend, close, blocker):
        await follow(app, viewer, other)
    ids = [
        (await post(client, friend, "عام"))["id"],
        (await post(client, close, "للمتابعين", visibility="followers"))["id"],
        (await post(client, blocker, "محجوب"))["id"],
        (await post(client, viewer, "منشوري"))["id"],
    ]
    for i in range(7):
        ids.append((await post(client, friend, f"منشور {i}"))["id"])
    for pid in ids:
        await fan_out(app, pid)
    await block(app, blocker, viewer)
    return viewer, friend, close, blocker


async def test_home_and_user_pages_match_the_general_algorithm(
    client: httpx.AsyncClient, app: FastAPI, person
) -> None:
    viewer, friend, close, blocker = await _mixed_feed(client, app, person)
    rt = app.state.content
    for limit in (1, 3, 20):
        fast = await _pages(client, "/timeline/home", viewer, limit)
        general = await _general_pages(
            app,
            lambda s, c, n: timelines.home(s, rt, viewer.uid, cursor=c, limit=n, rank="new"),
            limit,
        )
        assert fast == general
        shown = {pid for ids, _ in fast for pid in ids}
        assert len(shown) == 10  # everything but the blocker's post
        for author in (friend, close, blocker):
            url = f"/users/{author.id}/posts"
            fast = await _pages(client, url, viewer, limit)
            general = await _general_pages(
                app,
                lambda s, c, n, a=author: timelines.user_posts(
                    s, rt, viewer.uid, a.uid, cursor=c, limit=n, kind=None
                ),
                limit,
            )
            assert fast == general
    assert (await client.get(f"/users/{blocker.id}/posts", headers=viewer.auth)).json() == {
        "items": [],
        "next_cursor": None,
    }


async def test_cached_reads_open_no_transaction(
    client: httpx.AsyncClient, app: FastAPI, person
) -> None:
    viewer, friend, _, _ = await _mixed_feed(client, app, person)
    one = (await client.get(f"/users/{friend.id}/posts", headers=viewer.auth)).json()["items"][0]
    for _ in range(2):  # the first read builds the Redis timeline, the next fills the cache
        await client.get("/timeline/home", headers=viewer.auth)
    await client.get(f"/posts/{one['id']}", headers=viewer.auth)
    db = app.state.db
    opened = 0
    original = db.session

    @contextlib.asynccontextmanager
    async def counting() -> AsyncIterator[Any]:
        nonlocal opened
        opened += 1
        async with original() as session:
            yield session

    db.session = counting
    try:
        home = await client.get("/timeline/home", headers=viewer.auth)
        mine = await client.get(f"/users/{friend.id}/posts", headers=viewer.auth)
        read = await client.get(f"/posts/{one['id']}", headers=viewer.auth)
    finally:
        db.session = original
    assert home.status_code == mine.status_code == read.status_code == 200
    assert len(home.json()["items"]) == 10 and read.json()["text"] == one["text"]
    assert opened == 0


async def test_a_community_turning_private_hides_its_cached_posts_at_once(
    client: httpx.AsyncClient, app: FastAPI, person
) -> None:
    owner, outsider = await person(), await person()
    await follow(app, outsider, owner)
    resp = await client.post(
        "/communities",
        json={"slug": f"c-{uuid.uuid4().hex[:10]}", "name": "نادي", "visibility": "public"},
        headers=owner.auth,
    )
    assert resp.status_code == 201, resp.text
    cid = resp.json()["id"]
    shared = await post(client, owner, "للجميع", community_id=cid, visibility="public")
    await fan_out(app, shared["id"])
    home = (await client.get("/timeline/home", headers=outsider.auth)).json()
    assert [p["id"] for p in home["items"]] == [shared["id"]]
    assert (await client.get(f"/posts/{shared['id']}", headers=outsider.auth)).status_code == 200

    changed = await client.patch(
        f"/communities/{cid}", json={"visibility": "private"}, headers=owner.auth
    )
    assert changed.status_code == 200, changed.text
    assert (await client.get("/timeline/home", headers=outsider.auth)).json()["items"] == []
    assert (await client.get(f"/posts/{shared['id']}", headers=outsider.auth)).status_code == 404
    listed = (await client.get(f"/users/{owner.id}/posts", headers=outsider.auth)).json()
    assert listed["items"] == []
    assert (await client.get(f"/posts/{shared['id']}", headers=owner.auth)).status_code == 200
