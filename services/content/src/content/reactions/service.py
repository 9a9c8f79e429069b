"""Reactions: one of each kind per user per target; adding and removing are idempotent.

The target row (post or comment) is locked while its reaction and its counts change,
so the counts always equal the reactions stored. A change that is already in effect
records no event.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from kit.errors import Forbidden, NotFound
from sqlalchemy.ext.asyncio import AsyncSession

from content.comments import repository as comments
from content.graph import repository as graph
from content.models import Comment, Post
from content.posts import repository as posts
from content.posts import service as post_service
from content.reactions import events, repository
from content.reactions.schemas import ReactionOut

if TYPE_CHECKING:
    from content.runtime import AfterCommitHooks, Runtime


def _bump(counts: dict[str, Any] | None, kind: str, delta: int) -> dict[str, int]:
    out = {k: int(v) for k, v in (counts or {}).items()}
    out[kind] = max(0, out.get(kind, 0) + delta)
    return {k: v for k, v in out.items() if v > 0}


async def react(
    session: AsyncSession,
    rt: Runtime,
    hooks: AfterCommitHooks,
    *,
    actor_id: uuid.UUID,
    target_type: str,
    target_id: uuid.UUID,
    kind: str,
    add: bool,
    now: datetime | None = None,
) -> ReactionOut:
    """Add (``add``) or remove the actor's ``kind`` reaction on a post or comment.

    404 when the target does not exist or the actor cannot see it; 403 when a block
    stands between the actor and the target's author.
    """
    now = now or datetime.now(UTC)
    counts_owner: Post | Comment
    post: Post | None = None
    if target_type == "post":
        await post_service.interactable_state(session, rt, actor_id, target_id)
        post = await posts.get(session, target_id, for_update=True)
        if post is None or post.deleted_at is not None:
            raise NotFound("No such post.")
        post_id, author_id, counts_owner = post.id, post.author_id, post
    else:
        comment = await comments.get(session, target_id)
        if comment is None or comment.deleted_at is not None:
            raise NotFound("No such comment.")
        try:
            await post_service.interactable_state(session, rt, actor_id, comment.post_id)
        except NotFound:
            raise NotFound("No such comment.") from None
        if comment.author_id != actor_id and await graph.blocked_between(
            session, actor_id, comment.author_id
        ):
            raise Forbidden("You cannot react to this comment.")
        comment = await comments.get(session, target_id, for_update=True)
        assert comment is not None
        post_id, author_id, counts_owner = comment.post_id, comment.author_id, comment
    if add:
        changed = await repository.add(session, target_type, target_id, actor_id, kind, now)
    else:
        changed = await repository.remove(session, target_type, target_id, actor_id, kind)
    counts = {k: int(v) for k, v in (counts_owner.reaction_counts or {}).items() if v}
    if changed:
        counts = _bump(counts_owner.reaction_counts, kind, 1 if add else -1)
        counts_owner.reaction_counts = counts
        if post is not None:
            await post_service.refresh_score(session, post)
        await session.flush()
        await events.reaction_changed(
            session,
            added=add,
            target_type=target_type,
            target_id=target_id,
            post_id=post_id,
            target_author_id=author_id,
            user_id=actor_id,
            kind=kind,
            at=now,
            counts=counts,
        )
        if target_type == "post":
            hooks.add(lambda: rt.posts.invalidate(post_id))
    return ReactionOut(
        target_type=target_type, target_id=target_id, kind=kind, reacted=add, counts=counts
    )
