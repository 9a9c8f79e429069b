"""Every query on the read models fed by identity: ``users``, ``follows``, ``blocks``."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import and_, delete, or_, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from messaging.models import Block, Follow, KnownUser


async def upsert_user(
    session: AsyncSession,
    *,
    user_id: uuid.UUID,
    username: str,
    display_name: str,
    updated_at: datetime,
) -> None:
    """Insert or update a user, keeping whichever state has the newest ``updated_at``
    (a replayed older profile never rolls a newer one back; a deleted user stays deleted)."""
    stmt = insert(KnownUser).values(
        id=user_id, username=username, display_name=display_name, updated_at=updated_at
    )
    stmt = stmt.on_conflict_do_update(
        index_elements=[KnownUser.id],
        set_={
            "username": stmt.excluded.username,
            "display_name": stmt.excluded.display_name,
            "updated_at": stmt.excluded.updated_at,
        },
        where=and_(KnownUser.updated_at < stmt.excluded.updated_at, KnownUser.deleted_at.is_(None)),
    )
    await session.execute(stmt)


async def mark_deleted(session: AsyncSession, user_id: uuid.UUID, at: datetime) -> None:
    stmt = insert(KnownUser).values(
        id=user_id, username="", display_name="", updated_at=at, deleted_at=at
    )
    stmt = stmt.on_conflict_do_update(
        index_elements=[KnownUser.id],
        set_={"username": "", "display_name": "", "deleted_at": stmt.excluded.deleted_at},
    )
    await session.execute(stmt)
    await session.execute(
        delete(Follow).where(or_(Follow.follower_id == user_id, Follow.followee_id == user_id))
    )
    await session.execute(
        delete(Block).where(or_(Block.blocker_id == user_id, Block.blocked_id == user_id))
    )


async def live_users(session: AsyncSession, ids: Iterable[uuid.UUID]) -> set[uuid.UUID]:
    """Those of ``ids`` that are known and not deleted."""
    wanted = set(ids)
    if not wanted:
        return set()
    rows = await session.scalars(
        select(KnownUser.id).where(KnownUser.id.in_(wanted), KnownUser.deleted_at.is_(None))
    )
    return set(rows)


async def display_names(session: AsyncSession, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, str]:
    if not ids:
        return {}
    rows = await session.execute(
        select(KnownUser.id, KnownUser.display_name, KnownUser.username).where(
            KnownUser.id.in_(set(ids))
        )
    )
    return {r[0]: (r[1] or r[2]) for r in rows if r[1] or r[2]}


async def add_follow(
    session: AsyncSession, follower_id: uuid.UUID, followee_id: uuid.UUID, at: datetime
) -> bool:
    """Record a follow; True when it is new."""
    result = await session.execute(
        insert(Follow)
        .values(follower_id=follower_id, followee_id=followee_id, created_at=at)
        .on_conflict_do_nothing()
        .returning(Follow.follower_id)
    )
    return result.first() is not None


async def remove_follow(
    session: AsyncSession, follower_id: uuid.UUID, followee_id: uuid.UUID
) -> None:
    await session.execute(
        delete(Follow).where(Follow.follower_id == follower_id, Follow.followee_id == followee_id)
    )


async def add_block(
    session: AsyncSession, blocker_id: uuid.UUID, blocked_id: uuid.UUID, at: datetime
) -> None:
    await session.execute(
        insert(Block)
        .values(blocker_id=blocker_id, blocked_id=blocked_id, created_at=at)
        .on_conflict_do_nothing()
    )


async def remove_block(session: AsyncSession, blocker_id: uuid.UUID, blocked_id: uuid.UUID) -> None:
    await session.execute(
        delete(Block).where(Block.blocker_id == blocker_id, Block.blocked_id == blocked_id)
    )


async def blocked_between(session: AsyncSession, a: uuid.UUID, b: uuid.UUID) -> bool:
    """Whether either of ``a`` and ``b`` blocks the other."""
    found = await session.scalar(
        select(Block.blocker_id)
        .where(
            or_(
                and_(Block.blocker_id == a, Block.blocked_id == b),
                and_(Block.blocker_id == b, Block.blocked_id == a),
            )
        )
        .limit(1)
    )
    return found is not None


async def blocked_among(
    session: AsyncSession, user_id: uuid.UUID, others: Iterable[uuid.UUID]
) -> set[uuid.UUID]:
    """Those of ``others`` that block ``user_id`` or are blocked by them."""
    wanted = set(others)
    if not wanted:
        return set()
    rows = await session.execute(
        select(Block.blocker_id, Block.blocked_id).where(
            or_(
                and_(Block.blocker_id == user_id, Block.blocked_id.in_(wanted)),
                and_(Block.blocked_id == user_id, Block.blocker_id.in_(wanted)),
            )
        )
    )
    out: set[uuid.UUID] = set()
    for blocker, blocked in rows:
        out.add(blocked if blocker == user_id else blocker)
    return out
