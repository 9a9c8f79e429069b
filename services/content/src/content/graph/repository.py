"""Queries on content's read model of identity: users, follows, blocks."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import and_, delete, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from content.models import Block, Follow, FollowerCount, User


async def upsert_user(
    session: AsyncSession,
    *,
    user_id: uuid.UUID,
    username: str,
    username_key: str,
    display_name: str,
    avatar_url: str | None,
    updated_at: datetime,
) -> None:
    """Insert or update a user, keeping whichever state has the later ``updated_at``;
    a deleted user stays deleted."""
    stmt = insert(User).values(
        id=user_id,
        username=username,
        username_key=username_key,
        display_name=display_name,
        avatar_url=avatar_url,
        updated_at=updated_at,
    )
    stmt = stmt.on_conflict_do_update(
        index_elements=[User.id],
        set_={
            "username": stmt.excluded.username,
            "username_key": stmt.excluded.username_key,
            "display_name": stmt.excluded.display_name,
            "avatar_url": stmt.excluded.avatar_url,
            "updated_at": stmt.excluded.updated_at,
        },
        where=and_(User.updated_at <= stmt.excluded.updated_at, User.deleted_at.is_(None)),
    )
    await session.execute(stmt)


async def mark_user_deleted(session: AsyncSession, user_id: uuid.UUID, at: datetime) -> None:
    stmt = insert(User).values(
        id=user_id,
        username="",
        username_key="",
        display_name="",
        updated_at=at,
        deleted_at=at,
    )
    stmt = stmt.on_conflict_do_update(
        index_elements=[User.id],
        # Nothing of the profile stays behind (identity.user.deleted asks for that).
        set_={
            "deleted_at": at,
            "username": "",
            "username_key": "",
            "display_name": "",
            "avatar_url": None,
            "updated_at": at,
        },
        where=User.deleted_at.is_(None),
    )
    await session.execute(stmt)


async def ids_for_username_keys(session: AsyncSession, keys: Sequence[str]) -> dict[str, uuid.UUID]:
    """Live users whose username key is in ``keys``: key → id."""
    if not keys:
        return {}
    rows = await session.execute(
        select(User.username_key, User.id).where(
            User.username_key.in_(list(keys)), User.deleted_at.is_(None)
        )
    )
    return {key: uid for key, uid in rows}


async def users_by_id(session: AsyncSession, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, User]:
    if not ids:
        return {}
    rows = await session.scalars(select(User).where(User.id.in_(list(set(ids)))))
    return {u.id: u for u in rows}


async def insert_follow(
    session: AsyncSession, follower_id: uuid.UUID, followee_id: uuid.UUID, at: datetime
) -> bool:
    """Record a follow; True when it is new (and the followee's count went up)."""
    inserted = await session.scalar(
        insert(Follow)
        .values(follower_id=follower_id, followee_id=followee_id, created_at=at)
        .on_conflict_do_nothing()
        .returning(Follow.follower_id)
    )
    if inserted is None:
        return False
    await _bump_followers(session, followee_id, 1)
    return True


async def delete_follow(
    session: AsyncSession, follower_id: uuid.UUID, followee_id: uuid.UUID
) -> bool:
    removed = await session.scalar(
        delete(Follow)
        .where(Follow.follower_id == follower_id, Follow.followee_id == followee_id)
        .returning(Follow.follower_id)
    )
    if removed is None:
        return False
    await _bump_followers(session, followee_id, -1)
    return True


async def _bump_followers(session: AsyncSession, user_id: uuid.UUID, delta: int) -> None:
    stmt = insert(FollowerCount).values(user_id=user_id, followers=max(0, delta))
    stmt = stmt.on_conflict_do_update(
        index_elements=[FollowerCount.user_id],
        set_={"followers": func.greatest(0, FollowerCount.followers + delta)},
    )
    await session.execute(stmt)


async def insert_block(
    session: AsyncSession, blocker_id: uuid.UUID, blocked_id: uuid.UUID, at: datetime
) -> bool:
    inserted = await session.scalar(
        insert(Block)
        .values(blocker_id=blocker_id, blocked_id=blocked_id, created_at=at)
        .on_conflict_do_nothing()
        .returning(Block.blocker_id)
    )
    return inserted is not None


async def delete_block(session: AsyncSession, blocker_id: uuid.UUID, blocked_id: uuid.UUID) -> bool:
    removed = await session.scalar(
        delete(Block)
        .where(Block.blocker_id == blocker_id, Block.blocked_id == blocked_id)
        .returning(Block.blocker_id)
    )
    return removed is not None


async def blocked_between(session: AsyncSession, a: uuid.UUID, b: uuid.UUID) -> bool:
    """True when either user blocks the other."""
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
    session: AsyncSession, viewer_id: uuid.UUID, others: Sequence[uuid.UUID]
) -> set[uuid.UUID]:
    """Those of ``others`` that block the viewer or are blocked by the viewer."""
    if not others:
        return set()
    others = list(set(others))
    rows = await session.execute(
        select(Block.blocker_id, Block.blocked_id).where(
            or_(
                and_(Block.blocker_id == viewer_id, Block.blocked_id.in_(others)),
                and_(Block.blocked_id == viewer_id, Block.blocker_id.in_(others)),
            )
        )
    )
    return {blocked if blocker == viewer_id else blocker for blocker, blocked in rows}


async def follows(session: AsyncSession, follower_id: uuid.UUID, followee_id: uuid.UUID) -> bool:
    found = await session.scalar(
        select(Follow.follower_id).where(
            Follow.follower_id == follower_id, Follow.followee_id == followee_id
        )
    )
    return found is not None


async def followed_among(
    session: AsyncSession, viewer_id: uuid.UUID, others: Sequence[uuid.UUID]
) -> set[uuid.UUID]:
    if not others:
        return set()
    rows = await session.scalars(
        select(Follow.followee_id).where(
            Follow.follower_id == viewer_id, Follow.followee_id.in_(list(set(others)))
        )
    )
    return set(rows)


async def follower_count(session: AsyncSession, user_id: uuid.UUID) -> int:
    count = await session.scalar(
        select(FollowerCount.followers).where(FollowerCount.user_id == user_id)
    )
    return int(count or 0)


async def follower_ids(session: AsyncSession, user_id: uuid.UUID) -> list[uuid.UUID]:
    rows = await session.scalars(select(Follow.follower_id).where(Follow.followee_id == user_id))
    return list(rows)


async def block_partners(session: AsyncSession, user_id: uuid.UUID) -> set[uuid.UUID]:
    """Everyone the user blocks or is blocked by."""
    rows = await session.execute(
        select(Block.blocker_id, Block.blocked_id).where(
            or_(Block.blocker_id == user_id, Block.blocked_id == user_id)
        )
    )
    return {blocked if blocker == user_id else blocker for blocker, blocked in rows}


async def followed_with_many_followers(
    session: AsyncSession, viewer_id: uuid.UUID, threshold: int
) -> list[uuid.UUID]:
    """Authors the viewer follows whose posts are not fanned out (over ``threshold``)."""
    rows = await session.scalars(
        select(Follow.followee_id)
        .join(FollowerCount, FollowerCount.user_id == Follow.followee_id)
        .where(Follow.follower_id == viewer_id, FollowerCount.followers > threshold)
    )
    return list(rows)


async def all_user_ids(session: AsyncSession) -> list[uuid.UUID]:
    """Every live user known to the read model, plus anyone who follows somebody."""
    users = await session.scalars(select(User.id).where(User.deleted_at.is_(None)))
    followers = await session.scalars(select(Follow.follower_id).distinct())
    return sorted(set(users) | set(followers))


async def clear_user_graph(session: AsyncSession, user_id: uuid.UUID) -> None:
    """Forget a deleted user's follows and blocks (identity also reports each removal)."""
    followees = list(
        await session.scalars(
            delete(Follow).where(Follow.follower_id == user_id).returning(Follow.followee_id)
        )
    )
    for followee in followees:
        await _bump_followers(session, followee, -1)
    await session.execute(delete(Follow).where(Follow.followee_id == user_id))
    await session.execute(
        update(FollowerCount).where(FollowerCount.user_id == user_id).values(followers=0)
    )
    await session.execute(
        delete(Block).where(or_(Block.blocker_id == user_id, Block.blocked_id == user_id))
    )


async def followee_ids(session: AsyncSession, user_id: uuid.UUID) -> list[uuid.UUID]:
    rows = await session.scalars(select(Follow.followee_id).where(Follow.follower_id == user_id))
    return list(rows)
