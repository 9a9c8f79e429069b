"""Every query on comments."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from content.cursors import Position
from content.models import Comment


async def get(
    session: AsyncSession, comment_id: uuid.UUID, *, for_update: bool = False
) -> Comment | None:
    stmt = select(Comment).where(Comment.id == comment_id)
    if for_update:
        stmt = stmt.with_for_update()
    return await session.scalar(stmt)


async def add(session: AsyncSession, comment: Comment) -> None:
    session.add(comment)
    await session.flush()


async def page(
    session: AsyncSession,
    *,
    post_id: uuid.UUID,
    parent_id: uuid.UUID | None,
    after: Position | None,
    limit: int,
) -> list[Comment]:
    """Comments of a post (top level, or replies to ``parent_id``), oldest first; deleted
    ones only while they still have replies."""
    stmt = select(Comment).where(
        Comment.post_id == post_id,
        Comment.parent_id.is_(None) if parent_id is None else Comment.parent_id == parent_id,
        or_(Comment.deleted_at.is_(None), Comment.reply_count > 0),
    )
    if after is not None:
        at, cid = after
        stmt = stmt.where(
            or_(Comment.created_at > at, and_(Comment.created_at == at, Comment.id > cid))
        )
    stmt = stmt.order_by(Comment.created_at, Comment.id).limit(limit)
    return list(await session.scalars(stmt))


def is_live(comment: Comment | None) -> bool:
    return comment is not None and comment.deleted_at is None


def touch(comment: Comment, now: datetime) -> None:
    comment.updated_at = now
