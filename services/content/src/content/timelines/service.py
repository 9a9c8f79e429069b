"""Home, user and community timelines: cursor-paginated, newest first, visibility-checked.

Home timeline = the viewer's own posts, posts of people they follow and posts of
communities they joined, minus anyone in a block with them. Candidates come from:

* the viewer's Redis sorted set, filled by fan-out on write (and rebuilt lazily from
  the database when missing);
* a database query for the followed authors and joined communities whose audience is
  over ``fanout_max_audience`` (their posts are pulled at read time, not pushed);
* once the Redis set is exhausted and was trimmed, the database for everything older.

Positions are ``(millisecond, post id)``, the order Redis keeps; every candidate is
loaded from the database and checked against the visibility rules before it is shown.
``rank=hot`` ranks the newest ``hot_candidates`` by their hot score instead.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from kit.errors import BadRequest, Forbidden, NotFound
from sqlalchemy.ext.asyncio import AsyncSession

from content import policy
from content.communities import repository as communities
from content.cursors import decode_offset, decode_position, encode_offset, encode_position
from content.graph import repository as graph
from content.posts import access
from content.posts import repository as posts
from content.posts import service as post_service
from content.posts.repository import PostRow
from content.posts.schemas import PostPage
from content.posts.state import State
from content.timelines.store import score_of

if TYPE_CHECKING:
    from content.runtime import Runtime

Key = tuple[int, uuid.UUID]  # (creation millisecond, post id): the timeline order
MAX_ROUNDS = 6


def _key_of(created_at: datetime, post_id: uuid.UUID) -> Key:
    return score_of(created_at), post_id


def _ms_to_dt(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


async def ensure_built(session: AsyncSession, rt: Runtime, viewer_id: uuid.UUID) -> None:
    """Seed the viewer's Redis timeline from the database unless it was built already."""
    store = rt.timelines
    if await store.is_built(viewer_id):
        return
    seed = await posts.home_seed(session, viewer_id, rt.settings.timeline_max_entries)
    await store.merge_built(viewer_id, seed)


async def rebuild(session: AsyncSession, rt: Runtime, viewer_id: uuid.UUID) -> int:
    """Replace the viewer's Redis timeline with what the database says it should hold."""
    seed = await posts.home_seed(session, viewer_id, rt.settings.timeline_max_entries)
    await rt.timelines.replace(viewer_id, seed)
    return len(seed)


Source = Callable[[Key | None, int], Awaitable[list[Key]]]


def _db_source(
    session: AsyncSession, authors: Sequence[uuid.UUID], comms: Sequence[uuid.UUID]
) -> Source:
    async def fetch(pos: Key | None, n: int) -> list[Key]:
        # Select by the millisecond (inclusive), then filter exactly by (ms, id).
        before = (_ms_to_dt(pos[0] + 1), uuid.UUID(int=0)) if pos else None
        rows = await posts.source_rows(
            session, authors=authors, communities=comms, before=before, limit=n
        )
        keys = sorted((_key_of(p.created_at, p.id) for p, _ in rows), reverse=True)
        return [k for k in keys if pos is None or k < pos]

    return fetch


def _redis_source(rt: Runtime, viewer_id: uuid.UUID) -> Source:
    async def fetch(pos: Key | None, n: int) -> list[Key]:
        entries = await rt.timelines.page(
            viewer_id, max_score=pos[0] if pos else None, offset=0, count=n + 8
        )
        keys = sorted(((score, pid) for pid, score in entries), reverse=True)
        return [k for k in keys if pos is None or k < pos][:n]

    return fetch


async def _home_candidates(
    session: AsyncSession, rt: Runtime, viewer_id: uuid.UUID, pos: Key | None, want: int
) -> tuple[list[State], Key | None, bool]:
    """Up to ``want`` visible home posts after ``pos``: (states, last examined key, more)."""
    settings = rt.settings
    await ensure_built(session, rt, viewer_id)
    pulled_authors = await graph.followed_with_many_followers(
        session, viewer_id, settings.fanout_max_audience
    )
    pulled_comms = await communities.joined_with_many_members(
        session, viewer_id, settings.fanout_max_audience
    )
    sources: list[Source] = [_redis_source(rt, viewer_id)]
    if pulled_authors or pulled_comms:
        sources.append(_db_source(session, pulled_authors, pulled_comms))
    trimmed = await rt.timelines.size(viewer_id) >= settings.timeline_max_entries
    redis_done = False
    collected: list[State] = []
    seen: set[uuid.UUID] = set()
    last: Key | None = pos
    for _ in range(MAX_ROUNDS):
        batch = max(2 * (want - len(collected)), 20)
        frontier: Key | None = None
        candidates: list[Key] = []
        exhausted = True
        for index, source in enumerate(sources):
            keys = await source(last, batch)
            candidates.extend(keys)
            if len(keys) >= batch:
                exhausted = False
                # Beyond this source's last key, another source may still hold newer
                # posts than what this one returned next: stop the round there.
                frontier = keys[-1] if frontier is None else max(frontier, keys[-1])
            elif index == 0 and trimmed and not redis_done:
                # The Redis window ran out but older entries were trimmed away: read
                # the rest from the database, following the same sources it held.
                redis_done = True
                followees = await graph.followee_ids(session, viewer_id)
                joined = await communities.joined_ids(session, viewer_id)
                sources[0] = _db_source(session, [viewer_id, *followees], joined)
                exhausted = False
        candidates = sorted(
            {k for k in candidates if frontier is None or k >= frontier}, reverse=True
        )
        states = await _visible_home(session, rt, viewer_id, [pid for _, pid in candidates])
        by_id = {uuid.UUID(s["post_id"]): s for s in states}
        for key in candidates:
            if key[1] in seen:
                continue
            seen.add(key[1])
            last = key
            state = by_id.get(key[1])
            if state is not None:
                collected.append(state)
                if len(collected) >= want:
                    return collected, last, True
        if frontier is not None:
            last = frontier if last is None or frontier < last else last
        if exhausted:
            return collected, last, False
    return collected, last, True


async def _visible_home(
    session: AsyncSession, rt: Runtime, viewer_id: uuid.UUID, ids: Sequence[uuid.UUID]
) -> list[State]:
    """Live posts among ``ids`` that belong in the viewer's home and that they may see."""
    rows = await posts.live_rows(session, ids)
    states = await post_service.states_of(session, rt.settings, list(rows.values()))
    authors = [uuid.UUID(s["author_id"]) for s in states]
    followed = await graph.followed_among(session, viewer_id, authors)
    joined = await communities.member_of(
        session, viewer_id, [uuid.UUID(s["community_id"]) for s in states if s["community_id"]]
    )
    belongs = [
        s
        for s in states
        if uuid.UUID(s["author_id"]) in followed
        or s["author_id"] == str(viewer_id)
        or (s["community_id"] and uuid.UUID(s["community_id"]) in joined)
    ]
    return await access.visible(session, viewer_id, belongs)


def _home_cursor(key: Key) -> str:
    return encode_position("home", _ms_to_dt(key[0]), key[1])


def decode_home(cursor: str | None) -> Key | None:
    """The position a ``rank=new`` home cursor points at (400 when it is not one)."""
    pos = decode_position("home", cursor)
    return None if pos is None else (score_of(pos[0]), pos[1])


async def home(
    session: AsyncSession,
    rt: Runtime,
    viewer_id: uuid.UUID,
    *,
    cursor: str | None,
    limit: int,
    rank: str,
) -> PostPage:
    """One page of the viewer's home timeline (``rank``: ``new`` or ``hot``)."""
    if rank == "hot":
        offset, snapshot = decode_offset("home-hot", cursor)
        pool, _, _ = await _home_candidates(
            session, rt, viewer_id, None, rt.settings.hot_candidates
        )
        ranked = sorted(pool, key=lambda s: (s["hot_score"], s["post_id"]), reverse=True)
        page = ranked[offset : offset + limit]
        more = offset + limit < len(ranked)
        stamp = snapshot if snapshot is not None else datetime.now(UTC).timestamp()
        return PostPage(
            items=await post_service.outs(session, page),
            next_cursor=encode_offset("home-hot", offset + limit, stamp) if more else None,
        )
    if rank != "new":
        raise BadRequest("rank must be 'new' or 'hot'.", title="Invalid rank")
    pos = decode_home(cursor)
    states, _, _ = await _home_candidates(session, rt, viewer_id, pos, limit + 1)
    page, more = states[:limit], len(states) > limit
    next_cursor = None
    if more and page:
        last = page[-1]
        next_cursor = _home_cursor(
            _key_of(datetime.fromisoformat(last["created_at"]), uuid.UUID(last["post_id"]))
        )
    return PostPage(items=await post_service.outs(session, page), next_cursor=next_cursor)


Fetch = Callable[[tuple[datetime, uuid.UUID] | None, int], Awaitable[list[PostRow]]]


async def _filtered_page(
    session: AsyncSession,
    rt: Runtime,
    viewer_id: uuid.UUID | None,
    list_kind: str,
    fetch: Fetch,
    cursor: str | None,
    limit: int,
) -> PostPage:
    """Read rows newest first, keep those the viewer may see, until ``limit`` + 1 are
    found (so we know there is more) or the rows run out; a page that needed more than
    ``MAX_ROUNDS`` reads ends early with a cursor where the reading stopped."""
    before = decode_position(list_kind, cursor)
    collected: list[State] = []
    last_examined: tuple[datetime, uuid.UUID] | None = None
    exhausted = False
    for _ in range(MAX_ROUNDS):
        want = 2 * limit + 1
        rows = await fetch(before, want)
        exhausted = len(rows) < want
        states = await post_service.states_of(session, rt.settings, rows)
        visible_ids = {s["post_id"] for s in await access.visible(session, viewer_id, states)}
        for state, (post, _) in zip(states, rows, strict=True):
            if len(collected) > limit:
                break
            last_examined = (post.created_at, post.id)
            if state["post_id"] in visible_ids:
                collected.append(state)
        if len(collected) > limit or exhausted:
            break
        before = last_examined
    page = collected[:limit]
    next_cursor = None
    if len(collected) > limit:
        last = page[-1]
        next_cursor = encode_position(
            list_kind, datetime.fromisoformat(last["created_at"]), uuid.UUID(last["post_id"])
        )
    elif not exhausted and last_examined is not None:
        next_cursor = encode_position(list_kind, *last_examined)
    return PostPage(items=await post_service.outs(session, page), next_cursor=next_cursor)


async def user_posts(
    session: AsyncSession,
    rt: Runtime,
    viewer_id: uuid.UUID | None,
    author_id: uuid.UUID,
    *,
    cursor: str | None,
    limit: int,
    kind: str | None,
) -> PostPage:
    """An author's posts the viewer may see, newest first (nothing across a block)."""
    if (
        viewer_id is not None
        and viewer_id != author_id
        and await graph.blocked_between(session, viewer_id, author_id)
    ):
        decode_position("user", cursor)
        return PostPage(items=[], next_cursor=None)

    async def fetch(before: tuple[datetime, uuid.UUID] | None, n: int) -> list[PostRow]:
        return await posts.author_rows(session, author_id, before, n, kind)

    return await _filtered_page(session, rt, viewer_id, "user", fetch, cursor, limit)


async def community_posts(
    session: AsyncSession,
    rt: Runtime,
    viewer_id: uuid.UUID | None,
    community_id: uuid.UUID,
    *,
    cursor: str | None,
    limit: int,
    kind: str | None,
) -> PostPage:
    """A community's posts, newest first; a private community's only for members (403)."""
    community = await communities.get(session, community_id)
    if community is None:
        raise NotFound("No such community.")
    member = (
        viewer_id is not None
        and await communities.role_of(session, community_id, viewer_id) is not None
    )
    if not policy.can_view_community_content(community.visibility, member=member):
        raise Forbidden("Only members see this community's posts.", title="Members only")

    async def fetch(before: tuple[datetime, uuid.UUID] | None, n: int) -> list[PostRow]:
        return await posts.community_rows(session, community_id, before, n, kind)

    return await _filtered_page(session, rt, viewer_id, "community", fetch, cursor, limit)
