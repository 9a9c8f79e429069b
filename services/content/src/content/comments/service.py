"""Threaded comments: create, edit, delete, list; counts kept consistent.

The post row is locked for every change of its comments, so ``posts.comment_count``
(live comments) and each parent's ``reply_count`` move together with the comment
itself. A block in either direction between the commenter and the post's author or
the parent comment's author forbids commenting (403).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from kit.errors import Forbidden, NotFound, UnprocessableEntity
from kit.ids import uuid7
from sqlalchemy.ext.asyncio import AsyncSession

from content import policy
from content.comments import events, repository
from content.comments.schemas import CommentCreate, CommentOut, CommentPage, CommentUpdate
from content.communities import repository as communities
from content.cursors import decode_position, encode_position
from content.graph import repository as graph
from content.models import Comment, Post
from content.posts import repository as posts
from content.posts import service as post_service

if TYPE_CHECKING:
    from content.runtime import AfterCommitHooks, Runtime


def comment_out(c: Comment) -> CommentOut:
    deleted = c.deleted_at is not None
    return CommentOut(
        id=c.id,
        post_id=c.post_id,
        author_id=None if deleted else c.author_id,
        parent_id=c.parent_id,
        text="" if deleted else c.text,
        mentions=[] if deleted else list(c.mentions),
        reply_count=c.reply_count,
        reaction_counts={} if deleted else {k: int(v) for k, v in c.reaction_counts.items() if v},
        created_at=c.created_at,
        updated_at=c.updated_at,
        edited_at=c.edited_at,
        deleted=deleted,
    )


async def _locked_post(session: AsyncSession, post_id: uuid.UUID) -> Post:
    post = await posts.get(session, post_id, for_update=True)
    if post is None or post.deleted_at is not None:
        raise NotFound("No such post.")
    return post


async def create(
    session: AsyncSession,
    rt: Runtime,
    hooks: AfterCommitHooks,
    actor_id: uuid.UUID,
    post_id: uuid.UUID,
    body: CommentCreate,
    now: datetime | None = None,
) -> Comment:
    """Comment on a post or reply to a comment of it; records ``content.comment.created``."""
    now = now or datetime.now(UTC)
    await post_service.interactable_state(session, rt, actor_id, post_id)
    text_value = post_service.check_text(body.text, rt.settings.comment_max_chars, "Comment")
    if not text_value:
        raise UnprocessableEntity("A comment needs text.", title="Empty comment")
    post = await _locked_post(session, post_id)
    parent: Comment | None = None
    if body.parent_id is not None:
        parent = await repository.get(session, body.parent_id, for_update=True)
        if parent is None or parent.post_id != post_id or parent.deleted_at is not None:
            raise UnprocessableEntity(
                "The parent comment does not exist on this post.", title="Unknown parent"
            )
        if parent.author_id != actor_id and await graph.blocked_between(
            session, actor_id, parent.author_id
        ):
            raise Forbidden("You cannot reply to this comment.")
    comment = Comment(
        id=uuid7(),
        post_id=post_id,
        author_id=actor_id,
        parent_id=body.parent_id,
        text=text_value,
        mentions=await post_service.resolve_mentions(session, text_value),
        reply_count=0,
        reaction_counts={},
        created_at=now,
        updated_at=now,
    )
    await repository.add(session, comment)
    if parent is not None:
        parent.reply_count += 1
    post.comment_count += 1
    await post_service.refresh_score(session, post)
    await session.flush()
    await events.comment_changed(
        session,
        comment,
        post_author_id=post.author_id,
        comment_count=post.comment_count,
        created=True,
    )
    hooks.add(lambda: rt.posts.invalidate(post_id))
    return comment


async def _visible_comment(
    session: AsyncSession, rt: Runtime, actor_id: uuid.UUID, comment_id: uuid.UUID
) -> Comment:
    comment = await repository.get(session, comment_id, for_update=True)
    if comment is None or comment.deleted_at is not None:
        raise NotFound("No such comment.")
    try:
        await post_service.visible_state(session, rt, actor_id, comment.post_id)
    except NotFound:
        raise NotFound("No such comment.") from None
    return comment


async def update(
    session: AsyncSession,
    rt: Runtime,
    actor_id: uuid.UUID,
    comment_id: uuid.UUID,
    body: CommentUpdate,
    now: datetime | None = None,
) -> Comment:
    """Edit one's own comment; unchanged text records nothing."""
    now = now or datetime.now(UTC)
    comment = await _visible_comment(session, rt, actor_id, comment_id)
    if not policy.can_edit(comment.author_id, actor_id):
        raise Forbidden("Only the author can edit this comment.")
    text_value = post_service.check_text(body.text, rt.settings.comment_max_chars, "Comment")
    if not text_value:
        raise UnprocessableEntity("A comment needs text.", title="Empty comment")
    if text_value == comment.text:
        return comment
    post = await _locked_post(session, comment.post_id)
    comment.text = text_value
    comment.mentions = await post_service.resolve_mentions(session, text_value)
    comment.edited_at = now
    comment.updated_at = now
    await session.flush()
    await events.comment_changed(
        session,
        comment,
        post_author_id=post.author_id,
        comment_count=post.comment_count,
        created=False,
    )
    return comment


async def delete(
    session: AsyncSession,
    rt: Runtime,
    hooks: AfterCommitHooks,
    actor_id: uuid.UUID,
    comment_id: uuid.UUID,
    now: datetime | None = None,
) -> None:
    """Delete a comment: its author, the post's author, or a moderator of the post's
    community. Replies stay; the comment remains as an empty placeholder while it has any."""
    now = now or datetime.now(UTC)
    comment = await repository.get(session, comment_id)
    if comment is None or comment.deleted_at is not None:
        raise NotFound("No such comment.")
    post = await _locked_post(session, comment.post_id)
    comment = await _visible_comment(session, rt, actor_id, comment_id)
    role = (
        await communities.role_of(session, post.community_id, actor_id)
        if post.community_id
        else None
    )
    if not (
        policy.can_delete(comment.author_id, actor_id, community_role=role)
        or post.author_id == actor_id
    ):
        raise Forbidden("You cannot delete this comment.")
    comment.deleted_at = now
    comment.updated_at = now
    if comment.parent_id is not None:
        parent = await repository.get(session, comment.parent_id, for_update=True)
        if parent is not None:
            parent.reply_count = max(0, parent.reply_count - 1)
    post.comment_count = max(0, post.comment_count - 1)
    await post_service.refresh_score(session, post)
    await session.flush()
    await events.comment_deleted(
        session, comment, post_author_id=post.author_id, comment_count=post.comment_count, at=now
    )
    hooks.add(lambda: rt.posts.invalidate(post.id))


async def list_comments(
    session: AsyncSession,
    rt: Runtime,
    viewer_id: uuid.UUID | None,
    post_id: uuid.UUID,
    parent_id: uuid.UUID | None,
    cursor: str | None,
    limit: int,
) -> CommentPage:
    """Comments of a post the viewer may see, oldest first, without those of users in a
    block with the viewer."""
    state = await post_service.visible_state(session, rt, viewer_id, post_id)
    after = decode_position("comments", cursor)
    items: list[Comment] = []
    more = False
    last: Comment | None = None
    for _ in range(5):
        rows = await repository.page(
            session, post_id=post_id, parent_id=parent_id, after=after, limit=limit + 1
        )
        more = len(rows) > limit
        batch = rows[:limit]
        if not batch:
            break
        blocked = (
            await graph.blocked_among(session, viewer_id, [c.author_id for c in batch])
            if viewer_id
            else set()
        )
        for c in batch:
            last = c
            if c.author_id in blocked and c.deleted_at is None:
                continue
            items.append(c)
            if len(items) == limit:
                break
        if len(items) >= limit or not more:
            break
        after = (batch[-1].created_at, batch[-1].id)
    next_cursor = None
    if last is not None and (more or (items and last is not items[-1])):
        next_cursor = encode_position("comments", last.created_at, last.id)
    return CommentPage(
        items=[comment_out(c) for c in items],
        next_cursor=next_cursor,
        comment_count=state["comment_count"],
    )
