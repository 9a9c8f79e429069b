"""Posts: create, read, edit, delete, and view counting.

Reads go through the post cache and then the visibility rules; a post the caller may
not see is a 404, exactly like one that does not exist, so ids reveal nothing. Writes
record their event in the caller's transaction and invalidate the cache only after
that transaction committed (through the request's after-commit hooks).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from kit.errors import Forbidden, NotFound, UnprocessableEntity
from kit.ids import uuid7
from sqlalchemy import update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from content import policy, text
from content.communities import repository as communities
from content.graph import repository as graph
from content.media.sniff import VIDEO_TYPES
from content.models import Post
from content.posts import access, events, repository
from content.posts.repository import PostRow
from content.posts.schemas import PostCreate, PostOut, PostUpdate
from content.posts.state import State, facts, post_state, to_out
from content.settings import ContentSettings
from content.timelines.hot import hot_score

if TYPE_CHECKING:
    from content.runtime import AfterCommitHooks, Runtime


def _not_found() -> NotFound:
    return NotFound("No such post.")


def check_text(raw: str, limit: int, what: str = "Post") -> str:
    """Normalised text; 422 when longer than ``limit`` characters."""
    value = text.normalize_text(raw)
    if len(value) > limit:
        raise UnprocessableEntity(
            f"{what} text is {len(value)} characters long; the limit is {limit}.",
            title="Text too long",
            limit=limit,
        )
    return value


async def resolve_mentions(session: AsyncSession, body: str) -> list[uuid.UUID]:
    """Ids of the known users ``@mentioned`` in ``body``, in order of mention."""
    keys = text.extract_mention_keys(body)
    found = await graph.ids_for_username_keys(session, keys)
    return [found[k] for k in keys if k in found]


async def _check_media(
    session: AsyncSession,
    settings: ContentSettings,
    owner_id: uuid.UUID,
    ids: Sequence[uuid.UUID],
    kind: str,
) -> list[uuid.UUID]:
    ordered = list(dict.fromkeys(ids))
    if len(ordered) > settings.max_media_per_post:
        raise UnprocessableEntity(
            f"A post carries at most {settings.max_media_per_post} media.", title="Too many media"
        )
    media = await repository.media_by_id(session, ordered)
    for mid in ordered:
        m = media.get(mid)
        if m is None or m.owner_id != owner_id:
            raise UnprocessableEntity(
                f"Media {mid} does not exist or is not yours.", title="Unknown media"
            )
    if kind == "reel" and (len(ordered) != 1 or media[ordered[0]].content_type not in VIDEO_TYPES):
        raise UnprocessableEntity("A reel carries exactly one video.", title="Invalid reel")
    return ordered


async def states_of(
    session: AsyncSession, settings: ContentSettings, rows: Sequence[PostRow]
) -> list[State]:
    media_ids = [mid for post, _ in rows for mid in post.media_ids]
    media = await repository.media_by_id(session, media_ids)
    return [post_state(post, vis, media, settings.media_base_url) for post, vis in rows]


async def load_state(
    session: AsyncSession, settings: ContentSettings, post_id: uuid.UUID
) -> State | None:
    """The post's state from the database; None when it does not exist or was deleted."""
    row = await repository.get_row(session, post_id)
    if row is None or row[0].deleted_at is not None:
        return None
    return (await states_of(session, settings, [row]))[0]


async def cached_state(session: AsyncSession, rt: Runtime, post_id: uuid.UUID) -> State | None:
    async def load() -> State | None:
        return await load_state(session, rt.settings, post_id)

    return await rt.posts.get(post_id, load)


async def visible_state(
    session: AsyncSession, rt: Runtime, viewer_id: uuid.UUID | None, post_id: uuid.UUID
) -> State:
    """The post if the viewer may see it; 404 otherwise."""
    state = await cached_state(session, rt, post_id)
    if state is None:
        raise _not_found()
    post_facts = facts(state)
    rel = await access.relation(session, viewer_id, post_facts)
    if not policy.can_view_post(post_facts, rel):
        raise _not_found()
    return state


async def interactable_state(
    session: AsyncSession, rt: Runtime, viewer_id: uuid.UUID, post_id: uuid.UUID
) -> State:
    """The post if the viewer may comment on or react to it; 404 if they cannot see it,
    403 if they see it but may not interact."""
    state = await visible_state(session, rt, viewer_id, post_id)
    post_facts = facts(state)
    rel = await access.relation(session, viewer_id, post_facts)
    if not policy.can_interact(post_facts, rel):
        raise Forbidden("You cannot interact with this post.")
    return state


async def outs(session: AsyncSession, states: Sequence[State]) -> list[PostOut]:
    """Response bodies, with each author's current name from the read model."""
    authors = await graph.users_by_id(session, [uuid.UUID(s["author_id"]) for s in states])
    return [to_out(s, authors.get(uuid.UUID(s["author_id"]))) for s in states]


async def create(
    session: AsyncSession,
    rt: Runtime,
    author_id: uuid.UUID,
    body: PostCreate,
    now: datetime | None = None,
) -> State:
    """Create a post and record ``content.post.created``.

    422: text over the limit, nothing to post, media not the author's, a visibility the
    community does not allow; 404: unknown community; 403: not a member of it.
    """
    now = now or datetime.now(UTC)
    settings = rt.settings
    body_text = check_text(body.text, settings.post_max_chars)
    media_ids = await _check_media(session, settings, author_id, body.media_ids, body.kind)
    if not body_text and not media_ids:
        raise UnprocessableEntity("A post needs text or media.", title="Empty post")
    community_visibility: str | None = None
    if body.community_id is not None:
        community = await communities.get(session, body.community_id)
        if community is None:
            raise NotFound("No such community.")
        if await communities.role_of(session, community.id, author_id) is None:
            raise Forbidden("Only members post in this community.", title="Not a member")
        community_visibility = community.visibility
    allowed = policy.allowed_post_visibilities(community_visibility)
    visibility = body.visibility or ("community" if community_visibility else "public")
    if visibility not in allowed:
        raise UnprocessableEntity(
            f"Visibility {visibility!r} is not allowed here; use one of: {', '.join(allowed)}.",
            title="Invalid visibility",
        )
    post = Post(
        id=uuid7(),
        author_id=author_id,
        community_id=body.community_id,
        kind=body.kind,
        text=body_text,
        hashtags=text.extract_hashtags(body_text),
        mentions=await resolve_mentions(session, body_text),
        media_ids=media_ids,
        visibility=visibility,
        comment_count=0,
        reaction_counts={},
        view_count=0,
        hot_score=hot_score(now, {}, 0, 0),
        created_at=now,
        updated_at=now,
    )
    await repository.add(session, post)
    media = await repository.media_by_id(session, media_ids)
    state = post_state(post, community_visibility, media, settings.media_base_url)
    await events.post_changed(session, state, created=True)
    return state


async def _editable(session: AsyncSession, actor_id: uuid.UUID, post_id: uuid.UUID) -> Post:
    post = await repository.get(session, post_id, for_update=True)
    if post is None or post.deleted_at is not None:
        raise _not_found()
    if not policy.can_edit(post.author_id, actor_id):
        raise Forbidden("Only the author can edit this post.")
    return post


async def update_post(
    session: AsyncSession,
    rt: Runtime,
    hooks: AfterCommitHooks,
    actor_id: uuid.UUID,
    post_id: uuid.UUID,
    body: PostUpdate,
    now: datetime | None = None,
) -> State:
    """Edit text and/or media (author only); sets ``edited_at``; no change, no event."""
    now = now or datetime.now(UTC)
    settings = rt.settings
    post = await _editable(session, actor_id, post_id)
    changed = False
    if body.text is not None:
        new_text = check_text(body.text, settings.post_max_chars)
        if new_text != post.text:
            post.text = new_text
            post.hashtags = text.extract_hashtags(new_text)
            post.mentions = await resolve_mentions(session, new_text)
            changed = True
    if body.media_ids is not None:
        media_ids = await _check_media(session, settings, actor_id, body.media_ids, post.kind)
        if media_ids != list(post.media_ids):
            post.media_ids = media_ids
            changed = True
    if not post.text and not post.media_ids:
        raise UnprocessableEntity("A post needs text or media.", title="Empty post")
    row = await repository.get_row(session, post_id)
    assert row is not None
    if changed:
        post.edited_at = now
        post.updated_at = now
        await session.flush()
    state = (await states_of(session, settings, [(post, row[1])]))[0]
    if changed:
        await events.post_changed(session, state, created=False)
        hooks.add(lambda: rt.posts.invalidate(post_id))
    return state


async def delete_post(
    session: AsyncSession,
    rt: Runtime,
    hooks: AfterCommitHooks,
    actor_id: uuid.UUID,
    post_id: uuid.UUID,
    now: datetime | None = None,
) -> None:
    """Soft-delete (the author, or the community's owner/moderator); idempotent for the
    author; records ``content.post.deleted``, after which no read model shows it."""
    now = now or datetime.now(UTC)
    post = await repository.get(session, post_id, for_update=True)
    if post is None:
        raise _not_found()
    if post.deleted_at is not None:
        if post.author_id == actor_id:
            return
        raise _not_found()
    role = (
        await communities.role_of(session, post.community_id, actor_id)
        if post.community_id
        else None
    )
    if not policy.can_delete(post.author_id, actor_id, community_role=role):
        state = await load_state(session, rt.settings, post_id)
        assert state is not None
        if not policy.can_view_post(
            facts(state), await access.relation(session, actor_id, facts(state))
        ):
            raise _not_found()
        raise Forbidden("Only the author or a community moderator can delete this post.")
    post.deleted_at = now
    post.updated_at = now
    await session.flush()
    await events.post_deleted(
        session, post_id=post.id, author_id=post.author_id, community_id=post.community_id, at=now
    )
    hooks.add(lambda: rt.posts.invalidate(post_id))


async def delete_all_by_author(
    session: AsyncSession, author_id: uuid.UUID, now: datetime
) -> list[uuid.UUID]:
    """Soft-delete every post of a deleted account, with an event for each."""
    deleted = await repository.soft_delete_by_author(session, author_id, now)
    for post_id, community_id in deleted:
        await events.post_deleted(
            session, post_id=post_id, author_id=author_id, community_id=community_id, at=now
        )
    return [pid for pid, _ in deleted]


async def apply_view_counts(session: AsyncSession, counts: Mapping[uuid.UUID, int]) -> int:
    """Add buffered view counts to live posts and refresh their hot scores."""
    posts = await repository.lock_many(session, list(counts))
    for post in posts:
        post.view_count += max(0, counts[post.id])
        post.hot_score = hot_score(
            post.created_at, post.reaction_counts or {}, post.comment_count, post.view_count
        )
    await session.flush()
    return len(posts)


#: The inbox group of applied view batches (pruned by the view flusher).
VIEWS_GROUP = "content-views"


async def mark_batch_applied(session: AsyncSession, batch: uuid.UUID) -> bool:
    """Record a view batch as applied (in the inbox); False when it already was."""
    from kit.outbox import INBOX

    inserted = await session.scalar(
        pg_insert(INBOX)
        .values(consumer_group=VIEWS_GROUP, event_id=batch, event_type="content.views")
        .on_conflict_do_nothing()
        .returning(INBOX.c.event_id)
    )
    return inserted is not None


async def refresh_score(session: AsyncSession, post: Post) -> None:
    post.hot_score = hot_score(
        post.created_at, post.reaction_counts or {}, post.comment_count, post.view_count
    )
    await session.execute(update(Post).where(Post.id == post.id).values(hot_score=post.hot_score))
