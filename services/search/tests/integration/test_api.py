"""The search API: pagination, cursors, sorting, facets, suggestions, bad input, stats."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from kit.testing import TokenFactory

from .conftest import community_data, new_id, now, post_data, user_data

pytestmark = pytest.mark.integration

Apply = Callable[[str, dict[str, Any]], Awaitable[None]]


async def test_cursor_pages_through_every_hit_once(client: httpx.AsyncClient, apply: Apply) -> None:
    word = f"صفحات{new_id()[:6]}"
    author = new_id()
    ids = set()
    for i in range(7):
        post = post_data(author, f"{word} {i}", created_at=now(i), updated_at=now(i))
        await apply("content.post.created", post)
        ids.add(post["post_id"])
    seen: list[str] = []
    params: dict[str, Any] = {"q": word, "limit": 3, "sort": "newest"}
    while True:
        resp = await client.get("/posts", params=params)
        assert resp.status_code == 200, resp.text
        body = resp.json()
        seen += [h["id"] for h in body["items"]]
        if not body["next_cursor"]:
            break
        params["cursor"] = body["next_cursor"]
    assert len(seen) == 7 and set(seen) == ids
    assert body["found"] == 7


async def test_tampered_or_foreign_cursor_is_a_400(client: httpx.AsyncClient, apply: Apply) -> None:
    word = f"مؤشر{new_id()[:6]}"
    for _ in range(3):
        await apply("content.post.created", post_data(new_id(), word))
    first = (await client.get("/posts", params={"q": word, "limit": 1})).json()
    cursor = first["next_cursor"]
    assert cursor
    resp = await client.get("/posts", params={"q": word, "limit": 1, "cursor": cursor[:-2] + "xx"})
    assert resp.status_code == 400
    assert resp.headers["content-type"].startswith("application/problem+json")
    resp = await client.get("/posts", params={"q": "اخر", "limit": 1, "cursor": cursor})
    assert resp.status_code == 400


async def test_bad_parameters_are_clear_4xx(client: httpx.AsyncClient) -> None:
    assert (await client.get("/posts", params={"sort": "random"})).status_code == 422
    assert (await client.get("/posts", params={"author": "not-a-uuid"})).status_code == 422
    assert (await client.get("/posts", params={"limit": 500})).status_code == 422
    assert (await client.get("/posts", params={"q": "x" * 201})).status_code == 422
    resp = await client.get(
        "/posts", params={"from": "2024-02-01T00:00:00Z", "to": "2024-01-01T00:00:00Z"}
    )
    assert resp.status_code == 400
    assert (await client.get("/posts", params={"tag": "#"})).status_code == 400
    assert (await client.get("/suggest", params={"q": "ًٌ"})).status_code == 400
    resp = await client.get("/posts", headers={"Authorization": "Bearer nonsense"})
    assert resp.status_code == 401


async def test_filters_sort_and_facets(client: httpx.AsyncClient, apply: Apply) -> None:
    word = f"مرشح{new_id()[:6]}"
    author, other = new_id(), new_id()
    old = post_data(
        author,
        f"{word} قديم",
        hashtags=["تقنية"],
        created_at="2024-01-01T00:00:00Z",
        updated_at="2024-01-01T00:00:00Z",
        reaction_counts={"like": 1},
    )
    new = post_data(
        author, f"{word} جديد", kind="reel", hashtags=["تقنية", "سفر"], reaction_counts={"like": 9}
    )
    third = post_data(other, f"{word} ثالث", comment_count=2)
    for post in (old, new, third):
        await apply("content.post.created", post)

    async def ids(**params: Any) -> list[str]:
        resp = await client.get("/posts", params={"q": word, **params})
        assert resp.status_code == 200, resp.text
        return [h["id"] for h in resp.json()["items"]]

    assert (
        await ids(sort="newest") == [third["post_id"], new["post_id"], old["post_id"]]
        or (await ids(sort="newest"))[2] == old["post_id"]
    )
    assert (await ids(sort="score"))[0] == new["post_id"]
    assert set(await ids(author=author)) == {old["post_id"], new["post_id"]}
    assert await ids(kind="reel") == [new["post_id"]]
    assert set(await ids(tag="#تقنيه")) == {old["post_id"], new["post_id"]}
    assert await ids(to="2024-06-01T00:00:00Z") == [old["post_id"]]
    assert old["post_id"] not in await ids(**{"from": "2024-06-01T00:00:00Z"})
    facets = (await client.get("/posts", params={"q": word})).json()["facets"]
    assert {"value": "تقنيه", "count": 2} in facets["hashtags"]
    assert {"value": "reel", "count": 1} in facets["kind"]
    bare = (await client.get("/posts", params={"q": word, "facets": "false"})).json()
    assert bare["facets"] == {} and bare["found"] == 3 and len(bare["items"]) == 3


async def test_users_communities_all_and_suggestions(
    client: httpx.AsyncClient, apply: Apply
) -> None:
    tag = new_id()[:6]
    uid = new_id()
    await apply(
        "identity.user.registered",
        user_data(uid, username=f"salma_{tag}", display_name=f"سَلْمى {tag}", bio="أحب القراءة"),
    )
    community = community_data(uid, f"نادي الكتاب {tag}", tags=[f"قراءة{tag}"], category="ثقافة")
    await apply("content.community.created", community)
    await apply("content.post.created", post_data(uid, f"اقرأ {tag}", hashtags=[f"قراءة{tag}"]))

    users = (await client.get("/users", params={"q": f"سلمي {tag}"})).json()
    assert [u["id"] for u in users["items"]] == [uid]
    assert users["items"][0]["highlight"]["display_name"].startswith("<mark>سَلْمى</mark>")
    communities = (await client.get("/communities", params={"q": f"الكتاب {tag}"})).json()
    assert [c["id"] for c in communities["items"]] == [community["community_id"]]
    assert communities["facets"]["category"] == [{"value": "ثقافة", "count": 1}]
    everything = (await client.get("/all", params={"q": tag})).json()
    assert everything["posts"]["found"] == 1 and everything["users"]["found"] == 1
    only_users = (await client.get("/all", params={"q": tag, "type": "users"})).json()
    assert only_users["posts"] is None and only_users["users"]["found"] == 1
    suggestions = (await client.get("/suggest", params={"q": f"salma_{tag[:3]}"})).json()
    assert [u["id"] for u in suggestions["users"]] == [uid]
    tags = (await client.get("/suggest", params={"q": f"قراءه{tag[:2]}"})).json()["hashtags"]
    assert tags == [{"value": f"قراءه{tag}", "count": 1}]


async def test_user_deletion_removes_profile_and_posts(
    client: httpx.AsyncClient, apply: Apply
) -> None:
    uid = new_id()
    word = f"محذوف{new_id()[:6]}"
    await apply("identity.user.registered", user_data(uid, display_name=word))
    await apply("content.post.created", post_data(uid, word))
    assert (await client.get("/posts", params={"q": word})).json()["found"] == 1
    await apply("identity.user.deleted", {"user_id": uid, "deleted_at": now(1)})
    assert (await client.get("/posts", params={"q": word})).json()["found"] == 0
    assert (await client.get("/users", params={"q": word})).json()["found"] == 0
    # A late event about the deleted user's post cannot bring it back.
    await apply("content.post.created", post_data(uid, word))
    assert (await client.get("/posts", params={"q": word})).json()["found"] == 0


async def test_statistics_admin_endpoint_and_metrics(
    client: httpx.AsyncClient, tokens: TokenFactory
) -> None:
    miss = f"لاشيء{new_id()[:6]}"
    for _ in range(2):
        assert (await client.get("/posts", params={"q": miss})).status_code == 200
    resp = await client.get("/admin/stats")
    assert resp.status_code == 401
    user = {"Authorization": f"Bearer {tokens.token(roles=['user'])}"}
    assert (await client.get("/admin/stats", headers=user)).status_code == 403
    admin = {"Authorization": f"Bearer {tokens.token(roles=['admin'])}"}
    stats = (await client.get("/admin/stats", params={"top": 100}, headers=admin)).json()
    assert stats["queries"] >= 2 and stats["zero_result_queries"] >= 2
    assert {"query": miss, "count": 2} in stats["top_zero_result_queries"]
    assert stats["latency"]["p50_ms"] is not None
    metrics = (await client.get("/metrics")).text
    assert 'search_zero_result_queries_total{collection="posts"}' in metrics
    assert "search_query_duration_seconds_bucket" in metrics
