"""The cheap read path of the home timeline and of single posts.

The general algorithm in :mod:`content.timelines.service` merges several candidate
sources over several rounds, through the ORM, inside a request transaction. Nearly
every request needs none of that: the viewer's Redis timeline is built, nobody they
follow is pulled at read time, and one batch of the newest entries fills the page.
This module serves exactly those requests with a fixed, small number of round trips
and no transaction:

1. Redis, one pipeline: is the timeline built, its size, the next entries;
2. Redis, one ``MGET``: the cached post states (misses: one batched database read,
   refilled into the cache under the versions read before loading);
3. PostgreSQL, one raw statement: everything the visibility rules and the response
   need about the viewer and the candidates' authors and communities (follows, blocks
   both ways, memberships, current community visibility, author profiles), plus the
   pulled sources that would make this path inapplicable.

Anything else (no built timeline, pulled authors or communities, a page that needs a
second round or the database beyond a trimmed window) returns ``None`` and the caller
runs the general algorithm, which gives the same answer, just at a higher cost.
Visibility is decided by :func:`content.policy.can_view_post` on fresh relation facts,
exactly as on the general path; cached post states are only trusted while their
version is current (see :mod:`content.posts.cache`), and a community's visibility is
taken from the database, not from the cached state.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

import orjson
from kit.errors import NotFound
from redis.exceptions import RedisError
from sqlalchemy.ext.asyncio import AsyncSession

from content import policy
from content.cursors import decode_position, encode_position
from content.posts import repository as posts
from content.posts import service as post_service
from content.posts.schemas import PostOut, PostPage
from content.posts.state import State, facts, to_out
from content.timelines.store import built_key, home_key

if TYPE_CHECKING:
    from kit.db import Database

    from content.runtime import Runtime

Key = tuple[int, uuid.UUID]


@dataclass(frozen=True)
class Author:
    """The author fields a response shows (the shape of ``models.User`` it needs)."""

    username: str
    display_name: str
    avatar_url: str | None
    deleted_at: datetime | None


@dataclass
class Context:
    """What one statement told about the viewer and the candidates."""

    pulled: bool
    followed: set[uuid.UUID]
    blocked: set[uuid.UUID]
    member_of: set[uuid.UUID]
    community_visibility: dict[uuid.UUID, str]
    authors: dict[uuid.UUID, Author]


_DELETED = datetime.min

CONTEXT_SQL = """
SELECT
  EXISTS (SELECT 1 FROM follows f JOIN follower_counts c ON c.user_id = f.followee_id
          WHERE f.follower_id = $1 AND c.followers > $2)
  OR EXISTS (SELECT 1 FROM memberships m JOIN communities c ON c.id = m.community_id
             WHERE m.user_id = $1 AND c.member_count > $2) AS pulled,
  ARRAY(SELECT followee_id FROM follows
        WHERE follower_id = $1 AND followee_id = ANY($3::uuid[])) AS followed,
  ARRAY(SELECT blocked_id FROM blocks WHERE blocker_id = $1 AND blocked_id = ANY($3::uuid[])
        UNION
        SELECT blocker_id FROM blocks WHERE blocked_id = $1 AND blocker_id = ANY($3::uuid[])
  ) AS blocked,
  ARRAY(SELECT community_id FROM memberships
        WHERE user_id = $1 AND community_id = ANY($4::uuid[])) AS member_of,
  (SELECT coalesce(json_agg(json_build_array(id, visibility)), '[]')
     FROM communities WHERE id = ANY($4::uuid[]))::text AS communities,
  (SELECT coalesce(json_agg(json_build_array(
             id, username, display_name, avatar_url, deleted_at IS NOT NULL)), '[]')
     FROM users WHERE id = ANY($3::uuid[]))::text AS users
"""


async def load_context(
    rt: Runtime,
    viewer_id: uuid.UUID | None,
    authors: Sequence[uuid.UUID],
    communities: Sequence[uuid.UUID],
) -> Context:
    """The viewer's relation to ``authors`` and ``communities``, in one round trip."""
    pool = await rt.pg()
    row = await pool.fetchrow(
        CONTEXT_SQL,
        viewer_id,
        rt.settings.fanout_max_audience,
        list(set(authors)),
        list(set(communities)),
    )
    assert row is not None
    users: dict[uuid.UUID, Author] = {}
    for uid, username, display_name, avatar_url, deleted in orjson.loads(row["users"]):
        users[uuid.UUID(uid)] = Author(
            username, display_name, avatar_url, _DELETED if deleted else None
        )
    return Context(
        pulled=bool(row["pulled"]),
        followed=set(row["followed"]),
        blocked=set(row["blocked"]),
        member_of=set(row["member_of"]),
        community_visibility={uuid.UUID(c): v for c, v in orjson.loads(row["communities"])},
        authors=users,
    )


async def load_states(
    rt: Runtime, db: Database, ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, State]:
    """Live posts among ``ids`` from the cache, the misses from the database in one
    batch (and put back into the cache). Deleted or unknown posts are left out."""
    try:
        found, missing = await rt.posts.get_many(ids)
    except RedisError:
        found, missing = {}, dict.fromkeys(ids, -1)
    if missing:
        session: AsyncSession
        async with db.session() as session:
            rows = await posts.live_rows(session, list(missing))
            loaded = await post_service.states_of(session, rt.settings, list(rows.values()))
        await rt.posts.fill(loaded, {k: v for k, v in missing.items() if v >= 0})
        found.update((uuid.UUID(s["post_id"]), s) for s in loaded)
    return {pid: s for pid, s in found.items() if s.get("deleted_at") is None}


def visible_with(ctx: Context, viewer_id: uuid.UUID | None, state: State) -> bool:
    """The visibility rules on a state, with the community visibility from ``ctx``."""
    f = facts(state)
    if f.community_id is not None and f.community_id in ctx.community_visibility:
        f = policy.PostFacts(
            author_id=f.author_id,
            visibility=f.visibility,
            community_id=f.community_id,
            community_visibility=ctx.community_visibility[f.community_id],
            deleted_at=f.deleted_at,
        )
    author = ctx.authors.get(f.author_id)
    if author is not None and author.deleted_at is not None:
        return False  # the account is gone; its posts are being deleted with it
    rel = policy.Relation(
        viewer_id=viewer_id,
        blocked=f.author_id in ctx.blocked,
        follows_author=f.author_id in ctx.followed,
        member=f.community_id in ctx.member_of if f.community_id else False,
    )
    return policy.can_view_post(f, rel)


def out(ctx: Context, state: State) -> PostOut:
    return to_out(state, ctx.authors.get(uuid.UUID(state["author_id"])))


async def home_page(
    rt: Runtime, db: Database, viewer_id: uuid.UUID, pos: Key | None, limit: int
) -> PostPage | None:
    """The ``rank=new`` home page after ``pos``, or None when only the general
    algorithm can answer it (see the module docstring)."""
    from content.timelines.service import _home_cursor, _key_of

    want = limit + 1
    batch = max(2 * want, 20)
    store = rt.timelines
    key = home_key(viewer_id)
    async with rt.redis.pipeline(transaction=False) as pipe:
        pipe.exists(built_key(viewer_id))
        pipe.zcard(key)
        pipe.zrevrangebyscore(
            key, "+inf" if pos is None else pos[0], "-inf", start=0, num=batch + 8,
            withscores=True,
        )  # fmt: skip
        built, size, raw = await pipe.execute()
    if not built:
        return None
    trimmed = int(size) >= store.max_entries
    entries: list[Key] = []
    for member, score in raw:
        text = member.decode() if isinstance(member, bytes) else str(member)
        entries.append((int(score), uuid.UUID(text)))
    keys = [k for k in sorted(entries, reverse=True) if pos is None or k < pos][:batch]
    full = len(keys) >= batch
    if not full and trimmed:
        return None  # the rest lies in the database
    viewer = str(viewer_id)
    collected: list[tuple[State, Context]] = []
    # Nearly every entry is shown, so load just enough for the page first, and the rest
    # of the batch only when some of those were filtered out.
    first = want + 4
    for index, chunk in enumerate((keys[:first], keys[first:])):
        if index and (not chunk or len(collected) >= want):
            break
        # The first round runs even without entries: it tells whether sources are pulled.
        states = await load_states(rt, db, [pid for _, pid in chunk])
        candidates = [states[pid] for _, pid in chunk if pid in states]
        ctx = await load_context(
            rt,
            viewer_id,
            [uuid.UUID(s["author_id"]) for s in candidates],
            [uuid.UUID(s["community_id"]) for s in candidates if s["community_id"]],
        )
        if ctx.pulled:
            return None
        for state in candidates:
            community = state["community_id"]
            belongs = (
                state["author_id"] == viewer
                or uuid.UUID(state["author_id"]) in ctx.followed
                or (community is not None and uuid.UUID(community) in ctx.member_of)
            )
            if belongs and visible_with(ctx, viewer_id, state):
                collected.append((state, ctx))
                if len(collected) >= want:
                    break
    if len(collected) < want and full:
        return None  # needs another round
    page = collected[:limit]
    next_cursor = None
    if len(collected) > limit and page:
        last = page[-1][0]
        next_cursor = _home_cursor(
            _key_of(datetime.fromisoformat(last["created_at"]), uuid.UUID(last["post_id"]))
        )
    return PostPage(items=[out(c, s) for s, c in page], next_cursor=next_cursor)


async def visible_post(
    rt: Runtime, db: Database, viewer_id: uuid.UUID | None, post_id: uuid.UUID
) -> PostOut:
    """A post the viewer may see, as a response body; 404 otherwise (the same rules as
    :func:`content.posts.service.visible_state`, without a request transaction)."""

    async def load() -> State | None:
        async with db.session() as session:
            return await post_service.load_state(session, rt.settings, post_id)

    state = await rt.posts.get(post_id, load)
    if state is None or state.get("deleted_at") is not None:
        raise NotFound("No such post.")
    community = state["community_id"]
    ctx = await load_context(
        rt, viewer_id, [uuid.UUID(state["author_id"])], [uuid.UUID(community)] if community else []
    )
    if not visible_with(ctx, viewer_id, state):
        raise NotFound("No such post.")
    return out(ctx, state)


AUTHOR_PAGE_SQL = """
SELECT id FROM posts
WHERE author_id = $1 AND deleted_at IS NULL
  AND ($2::text IS NULL OR kind = $2)
  AND ($3::timestamptz IS NULL OR (created_at, id) < ($3, $4::uuid))
ORDER BY created_at DESC, id DESC
LIMIT $5
"""


async def user_page(
    rt: Runtime,
    db: Database,
    viewer_id: uuid.UUID | None,
    author_id: uuid.UUID,
    *,
    cursor: str | None,
    limit: int,
    kind: str | None,
) -> PostPage | None:
    """The first round of :func:`content.timelines.service.user_posts`, or None when the
    page needs more than one (the caller then runs the general algorithm)."""
    before = decode_position("user", cursor)
    want = 2 * limit + 1
    pool = await rt.pg()
    rows = await pool.fetch(
        AUTHOR_PAGE_SQL,
        author_id,
        kind,
        before[0] if before else None,
        before[1] if before else None,
        want,
    )
    exhausted = len(rows) < want
    ids: list[uuid.UUID] = [r["id"] for r in rows]
    states = await load_states(rt, db, ids)
    ordered = [states[pid] for pid in ids if pid in states]
    ctx = await load_context(
        rt,
        viewer_id,
        [author_id],
        [uuid.UUID(s["community_id"]) for s in ordered if s["community_id"]],
    )
    if viewer_id is not None and viewer_id != author_id and author_id in ctx.blocked:
        return PostPage(items=[], next_cursor=None)
    collected: list[State] = []
    for state in ordered:
        if visible_with(ctx, viewer_id, state):
            collected.append(state)
            if len(collected) > limit:
                break
    if len(collected) <= limit and not exhausted:
        return None
    page = collected[:limit]
    next_cursor = None
    if len(collected) > limit:
        last = page[-1]
        next_cursor = encode_position(
            "user", datetime.fromisoformat(last["created_at"]), uuid.UUID(last["post_id"])
        )
    return PostPage(items=[out(ctx, s) for s in page], next_cursor=next_cursor)
