"""Visibility through the API: private communities, followers-only posts, blocks."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from kit.testing import TokenFactory

from .conftest import community_data, membership_data, new_id, now, post_data, user_data

pytestmark = pytest.mark.integration

Apply = Callable[[str, dict[str, Any]], Awaitable[None]]


async def _ids(
    client: httpx.AsyncClient, q: str, token: str | None = None, **params: Any
) -> set[str]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    resp = await client.get("/posts", params={"q": q, **params}, headers=headers)
    assert resp.status_code == 200, resp.text
    return {hit["id"] for hit in resp.json()["items"]}


async def test_private_community_posts_reach_members_only(
    client: httpx.AsyncClient, apply: Apply, tokens: TokenFactory
) -> None:
    owner, member, outsider = new_id(), new_id(), new_id()
    word = f"سرية{new_id()[:6]}"
    community = community_data(owner, "نادي خاص", visibility="private")
    await apply("content.community.created", community)
    cid = community["community_id"]
    for uid in (owner, member):
        await apply("content.community.member_joined", membership_data(cid, uid, "private"))
    post = post_data(
        owner, f"خطة {word}", community_id=cid, community_visibility="private", visibility="public"
    )
    await apply("content.post.created", post)
    pid = post["post_id"]

    assert pid in await _ids(client, word, tokens.token(sub=member))
    assert pid in await _ids(client, word, tokens.token(sub=owner))
    assert pid not in await _ids(client, word, tokens.token(sub=outsider))
    assert pid not in await _ids(client, word)  # anonymous
    # Facets never count what the caller cannot see.
    resp = await client.get("/posts", params={"q": word})
    assert resp.json()["found"] == 0 and all(
        v["value"] != cid for v in resp.json()["facets"].get("community_id", [])
    )

    await apply("content.community.member_left", membership_data(cid, member, "private", at=now(1)))
    assert pid not in await _ids(client, word, tokens.token(sub=member))


async def test_a_community_turning_private_hides_its_earlier_posts(
    client: httpx.AsyncClient, apply: Apply, tokens: TokenFactory
) -> None:
    owner, outsider = new_id(), new_id()
    word = f"تحول{new_id()[:6]}"
    community = community_data(owner, "نادي عام")
    await apply("content.community.created", community)
    cid = community["community_id"]
    post = post_data(owner, word, community_id=cid, community_visibility="public")
    await apply("content.post.created", post)
    assert post["post_id"] in await _ids(client, word, tokens.token(sub=outsider))
    await apply(
        "content.community.updated", {**community, "visibility": "private", "updated_at": now(5)}
    )
    assert post["post_id"] not in await _ids(client, word, tokens.token(sub=outsider))


async def test_followers_only_posts_reach_followers_and_the_author(
    client: httpx.AsyncClient, apply: Apply, tokens: TokenFactory
) -> None:
    author, follower, stranger = new_id(), new_id(), new_id()
    word = f"متابعين{new_id()[:6]}"
    await apply(
        "identity.follow.created",
        {"follower_id": follower, "followee_id": author, "created_at": now()},
    )
    post = post_data(author, word, visibility="followers")
    await apply("content.post.created", post)
    pid = post["post_id"]
    assert pid in await _ids(client, word, tokens.token(sub=follower))
    assert pid in await _ids(client, word, tokens.token(sub=author))
    assert pid not in await _ids(client, word, tokens.token(sub=stranger))
    assert pid not in await _ids(client, word)
    await apply(
        "identity.follow.removed",
        {"follower_id": follower, "followee_id": author, "removed_at": now(1)},
    )
    assert pid not in await _ids(client, word, tokens.token(sub=follower))


async def test_blocks_hide_posts_and_profiles_in_both_directions(
    client: httpx.AsyncClient, apply: Apply, tokens: TokenFactory
) -> None:
    blocker, blocked = new_id(), new_id()
    word = f"حظر{new_id()[:6]}"
    for uid in (blocker, blocked):
        await apply("identity.user.registered", user_data(uid, display_name=f"اسم {word}"))
        await apply("content.post.created", post_data(uid, word))
    await apply(
        "identity.block.created",
        {"blocker_id": blocker, "blocked_id": blocked, "created_at": now()},
    )
    seen_by_blocker = await _ids(client, word, tokens.token(sub=blocker), author=blocked)
    seen_by_blocked = await _ids(client, word, tokens.token(sub=blocked), author=blocker)
    assert seen_by_blocker == set() and seen_by_blocked == set()
    assert len(await _ids(client, word, new_id_token(tokens))) == 2

    users = await client.get(
        "/users",
        params={"q": word},
        headers={"Authorization": f"Bearer {tokens.token(sub=blocked)}"},
    )
    assert [u["id"] for u in users.json()["items"]] == [blocked]

    await apply(
        "identity.block.removed",
        {"blocker_id": blocker, "blocked_id": blocked, "removed_at": now(1)},
    )
    assert len(await _ids(client, word, tokens.token(sub=blocked))) == 2


def new_id_token(tokens: TokenFactory) -> str:
    return tokens.token(sub=new_id())
