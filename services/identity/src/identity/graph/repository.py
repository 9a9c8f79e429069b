"""Every query on ``follows`` and ``blocks``."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import and_, delete, or_, select, text, tuple_
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from identity.models import Block, Follow, User


async def lock_pair(session: AsyncSession, a: uuid.UUID, b: uuid.UUID) -> None:
    """Serialize graph changes between two users (follow racing a block, say)."""
    low, high = sorted((str(a), str(b)))
    await session.execute(
        text("SELECT pg_advisory_xact_lock(hashtextextended(:pair, 7))"),
        {"pair": f"graph:{low}:{high}"},
    )


async def insert_follow(
    session: AsyncSession, follower_id: uuid.UUID, followee_id: uuid.UUID, now: datetime
) -> datetime | None:
    """Insert the follow; its ``created_at`` when new, None when it already existed."""
    result = await session.execute(
        insert(Follow)
        .values(follower_id=follower_id, followee_id=followee_id, created_at=now)
        .on_conflict_do_nothing()
        .returning(Follow.created_at)
    )
    return result.scalar_one_or_none()


async def delete_follow(
    session: AsyncSession, follower_id: uuid.UUID, followee_id: uuid.UUID
) -> bool:
    result = await session.execute(
        delete(Follow)
        .where(Follow.follower_id == follower_id, Follow.followee_id == followee_id)
        .returning(Follow.follower_id)
    )
    return result.first() is not None


async def delete_follows_between(
    session: AsyncSession, a: uuid.UUID, b: uuid.UUID
) -> Sequence[tuple[uuid.UUID, uuid.UUID]]:
    """Remove follows both ways; the (follower, followee) pairs removed."""
    result = await session.execute(
        delete(Follow)
        .where(
            or_(
                and_(Follow.follower_id == a, Follow.followee_id == b),
                and_(Follow.follower_id == b, Follow.followee_id == a),
            )
        )
        .returning(Follow.follower_id, Follow.followee_id)
    )
    return [(r[0], r[1]) for r in result.all()]


async def delete_all_follows_of(
    session: AsyncSession, user_id: uuid.UUID
) -> Sequence[tuple[uuid.UUID, uuid.UUID]]:
    result = await session.execute(
        delete(Follow)
        .where(or_(Follow.follower_id == user_id, Follow.followee_id == user_id))
        .returning(Follow.follower_id, Follow.followee_id)
    )
    return [(r[0], r[1]) for r in result.all()]


async def delete_all_blocks_of(
    session: AsyncSession, user_id: uuid.UUID
) -> Sequence[tuple[uuid.UUID, uuid.UUID]]:
    result = await session.execute(
        delete(Block)
        .where(or_(Block.blocker_id == user_id, Block.blocked_id == user_id))
        .returning(Block.blocker_id, Block.blocked_id)
    )
    return [(r[0], r[1]) for r in result.all()]


async def blocks_between(session: AsyncSession, a: uuid.UUID, b: uuid.UUID) -> set[uuid.UUID]:
    """The blockers among ``a`` and ``b`` (empty when neither blocks the other)."""
    result = await session.scalars(
        select(Block.blocker_id).where(
            or_(
                and_(Block.blocker_id == a, Block.blocked_id == b),
                and_(Block.blocker_id == b, Block.blocked_id == a),
            )
        )
    )
    return set(result)


async def insert_block(
    session: AsyncSession, blocker_id: uuid.UUID, blocked_id: uuid.UUID, now: datetime
) -> datetime | None:
    result = await session.execute(
        insert(Block)
        .values(blocker_id=blocker_id, blocked_id=blocked_id, created_at=now)
        .on_conflict_do_nothing()
        .returning(Block.created_at)
    )
    return result.scalar_one_or_none()


async def delete_block(session: AsyncSession, blocker_id: uuid.UUID, blocked_id: uuid.UUID) -> bool:
    result = await session.execute(
        delete(Block)
        .where(Block.blocker_id == blocker_id, Block.blocked_id == blocked_id)
        .returning(Block.blocker_id)
    )
    return result.first() is not None


async def list_edges(
    session: AsyncSession,
    *,
    user_id: uuid.UUID,
    direction: str,
    after: tuple[datetime, uuid.UUID] | None,
    limit: int,
) -> Sequence[tuple[User, datetime]]:
    """Followers (``direction="followers"``) or followees (``"following"``) of a user,
    newest first, keyset-paginated on (created_at, other user id); deleted users skipped."""
    if direction == "followers":
        anchor, other = Follow.followee_id, Follow.follower_id
    else:
        anchor, other = Follow.follower_id, Follow.followee_id
    query = (
        select(User, Follow.created_at)
        .join(User, User.id == other)
        .where(anchor == user_id, User.deleted_at.is_(None))
        .order_by(Follow.created_at.desc(), other.desc())
        .limit(limit)
    )
    if after is not None:
        query = query.where(tuple_(Follow.created_at, other) < tuple_(after[0], after[1]))
    rows = (await session.execute(query)).all()
    return [(r[0], r[1]) for r in rows]
