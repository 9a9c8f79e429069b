"""Reindexing behind the alias: searches keep answering while a new version is built."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from kit.testing import TokenFactory, wait_until
from search.reindex.service import reindex
from search.runtime import Runtime
from search.settings import SearchSettings
from search.typesense import TypesenseNotFound

from .conftest import Publish, new_id, post_data, running_consumer, user_data

pytestmark = pytest.mark.integration

Apply = Callable[[str, dict[str, Any]], Awaitable[None]]


async def test_reindex_swaps_the_alias_without_a_failed_query(
    app: FastAPI, runtime: Runtime, client: httpx.AsyncClient, apply: Apply
) -> None:
    word = f"فهرس{new_id()[:6]}"
    author = new_id()
    posts = [post_data(author, f"{word} رقم {i}") for i in range(60)]
    for post in posts:
        await apply("content.post.created", post)
    before = await runtime.collections.current("posts")
    answers: list[int] = []
    stop = asyncio.Event()

    async def keep_searching() -> None:
        while not stop.is_set():
            resp = await client.get("/posts", params={"q": word, "limit": 1})
            assert resp.status_code == 200, resp.text
            answers.append(resp.json()["found"])
            await asyncio.sleep(0)

    searcher = asyncio.create_task(keep_searching())
    try:
        job = await reindex(runtime, app.state.db, "posts", source="backfill")
    finally:
        stop.set()
        await searcher
    after = await runtime.collections.current("posts")
    assert job["status"] == "done" and job["new_collection"] == after != before
    assert job["documents"] >= 60
    assert answers and all(found == 60 for found in answers)
    with pytest.raises(TypesenseNotFound):
        await runtime.typesense.get_collection(str(before))
    resp = await client.get("/posts", params={"q": word, "limit": 1})
    assert resp.json()["found"] == 60


async def test_replay_reindex_rebuilds_from_the_topics_and_keeps_later_changes(
    app: FastAPI,
    settings: SearchSettings,
    runtime: Runtime,
    client: httpx.AsyncClient,
    publish: Publish,
) -> None:
    word = f"اعادة{new_id()[:6]}"
    author = new_id()
    await publish("identity.user.registered", user_data(author, display_name=f"كاتب {word}"))
    async with running_consumer(app, settings):
        post = post_data(author, word)
        await publish("content.post.created", post)

        async def seen() -> bool:
            resp = await client.get("/posts", params={"q": word})
            return resp.json()["found"] == 1

        await wait_until(seen, within_s=15)
        # Lose the read model's copy: only a replay of the topics can bring it back.
        async with app.state.db.session() as session:
            from sqlalchemy import text

            await session.execute(
                text("DELETE FROM documents WHERE doc_id = :d"), {"d": post["post_id"]}
            )
        job = await reindex(runtime, app.state.db, "posts", source="replay")
        assert job["status"] == "done" and job["replayed_events"] >= 2
        resp = await client.get("/posts", params={"q": word})
        assert [h["id"] for h in resp.json()["items"]] == [post["post_id"]]
        # Live indexing goes on into the new version.
        later = post_data(author, f"{word} لاحق")
        await publish("content.post.created", later)

        async def later_seen() -> bool:
            resp = await client.get("/posts", params={"q": word})
            return resp.json()["found"] == 2

        await wait_until(later_seen, within_s=15)


async def test_reindex_endpoint_needs_admin_and_reports_the_job(
    client: httpx.AsyncClient, tokens: TokenFactory
) -> None:
    user = {"Authorization": f"Bearer {tokens.token(roles=['user'])}"}
    admin = {"Authorization": f"Bearer {tokens.token(roles=['admin'])}"}
    assert (await client.post("/admin/reindex", json={"collection": "users"})).status_code == 401
    resp = await client.post("/admin/reindex", json={"collection": "users"}, headers=user)
    assert resp.status_code == 403
    resp = await client.post("/admin/reindex", json={"collection": "nope"}, headers=admin)
    assert resp.status_code == 422
    resp = await client.post("/admin/reindex", json={"collection": "users"}, headers=admin)
    assert resp.status_code == 202, resp.text
    job_id = resp.json()["id"]

    async def finished() -> bool:
        r = await client.get(f"/admin/reindex/{job_id}", headers=admin)
        return r.json()["status"] != "running"

    await wait_until(finished, within_s=20)
    job = (await client.get(f"/admin/reindex/{job_id}", headers=admin)).json()
    assert job["status"] == "done", job
    assert (await client.get(f"/admin/reindex/{new_id()}", headers=admin)).status_code == 404
