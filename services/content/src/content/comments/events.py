"""Events on ``content.comment.v1``, keyed by the post id so a post's comments stay in
order; each carries the post's comment count after the change."""

from __future__ import annotations

from datetime import datetime

from kit.outbox import record_event
from sqlalchemy.ext.asyncio import AsyncSession

from content.events_common import iso
from content.models import Comment

CREATED = "content.comment.created"
UPDATED = "content.comment.updated"
DELETED = "content.comment.deleted"


async def comment_changed(
    session: AsyncSession,
    comment: Comment,
    *,
    post_author_id: object,
    comment_count: int,
    created: bool,
) -> None:
    await record_event(
        session,
        type=CREATED if created else UPDATED,
        subject=str(comment.post_id),
        data={
            "comment_id": str(comment.id),
            "post_id": str(comment.post_id),
            "post_author_id": str(post_author_id),
            "author_id": str(comment.author_id),
            "parent_id": str(comment.parent_id) if comment.parent_id else None,
            "text": comment.text,
            "mentions": [str(m) for m in comment.mentions],
            "created_at": iso(comment.created_at),
            "updated_at": iso(comment.updated_at),
            "comment_count": comment_count,
        },
    )


async def comment_deleted(
    session: AsyncSession,
    comment: Comment,
    *,
    post_author_id: object,
    comment_count: int,
    at: datetime,
) -> None:
    await record_event(
        session,
        type=DELETED,
        subject=str(comment.post_id),
        data={
            "comment_id": str(comment.id),
            "post_id": str(comment.post_id),
            "post_author_id": str(post_author_id),
            "author_id": str(comment.author_id),
            "deleted_at": iso(at),
            "comment_count": comment_count,
        },
    )
