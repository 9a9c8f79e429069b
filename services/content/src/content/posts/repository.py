"""Every query on posts and their media."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import ColumnElement, Select, and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from content.cursors import Position
from content.models import Community, Follow, Media, Membership, Post

PostRow = tuple[Post, str | None]  # the post and its community's visibility


async def get(
    session: AsyncSession, post_id: uuid.UUID, *, for_update: bool = False
) -> Post | None:
    stmt = select(Post).where(Post.id == post_id)
    if for_update:
        stmt = stmt.with_for_update()
    return await session.scalar(stmt)


def _with_community() -> Select[Post, str]:
    return select(Post, Community.visibility).outerjoin(
        Community, Community.id == Post.community_id
    )


async def get_row(session: AsyncSession, post_id: uuid.UUID) -> PostRow | None:
    row = (await session.execute(_with_community().where(Post.id == post_id))).first()
    if row is None:
        return None
    post, visibility = row
    return post, visibility


async def live_rows(session: AsyncSession, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, PostRow]:
    """Live (not deleted) posts among ``ids``, with their community's visibility."""
    if not ids:
        return {}
    rows = await session.execute(
        _with_community().where(Post.id.in_(list(set(ids))), Post.deleted_at.is_(None))
    )
    return {p.id: (p, vis) for p, vis in rows}


def _before(position: Position | None) -> list[ColumnElement[bool]]:
    if position is None:
        return []
    at, pid = position
    return [or_(Post.created_at < at, and_(Post.created_at == at, Post.id < pid))]


async def author_rows(
    session: AsyncSession,
    author_id: uuid.UUID,
    before: Position | None,
    limit: int,
    kind: str | None,
) -> list[PostRow]:
    stmt = _with_community().where(
        Post.author_id == author_id, Post.deleted_at.is_(None), *_before(before)
    )
    if kind is not None:
        stmt = stmt.where(Post.kind == kind)
    stmt = stmt.order_by(Post.created_at.desc(), Post.id.desc()).limit(limit)
    return [(p, v) for p, v in await session.execute(stmt)]


async def community_rows(
    session: AsyncSession,
    community_id: uuid.UUID,
    before: Position | None,
    limit: int,
    kind: str | None,
) -> list[PostRow]:
    stmt = _with_community().where(
        Post.community_id == community_id, Post.deleted_at.is_(None), *_before(before)
    )
    if kind is not None:
        stmt = stmt.where(Post.kind == kind)
    stmt = stmt.order_by(Post.created_at.desc(), Post.id.desc()).limit(limit)
    return [(p, v) for p, v in await session.execute(stmt)]


async def source_rows(
    session: AsyncSession,
    *,
    authors: Sequence[uuid.UUID],
    communities: Sequence[uuid.UUID],
    before: Position | None,
    limit: int,
) -> list[PostRow]:
    """Newest live posts by any of ``authors`` or in any of ``communities``."""
    conditions = []
    if authors:
        conditions.append(Post.author_id.in_(list(set(authors))))
    if communities:
        conditions.append(Post.community_id.in_(list(set(communities))))
    if not conditions:
        return []
    stmt = (
        _with_community()
        .where(or_(*conditions), Post.deleted_at.is_(None), *_before(before))
        .order_by(Post.created_at.desc(), Post.id.desc())
        .limit(limit)
    )
    return [(p, v) for p, v in await session.execute(stmt)]


async def home_seed(
    session: AsyncSession, viewer_id: uuid.UUID, limit: int
) -> list[tuple[uuid.UUID, datetime]]:
    """The newest posts of the viewer, the people they follow and their communities:
    what a rebuilt home timeline holds."""
    followed = select(Follow.followee_id).where(Follow.follower_id == viewer_id)
    joined = select(Membership.community_id).where(Membership.user_id == viewer_id)
    stmt = (
        select(Post.id, Post.created_at)
        .where(
            Post.deleted_at.is_(None),
            or_(
                Post.author_id == viewer_id,
                Post.author_id.in_(followed),
                Post.community_id.in_(joined),
            ),
        )
        .order_by(Post.created_at.desc(), Post.id.desc())
        .limit(limit)
    )
    return [(pid, at) for pid, at in await session.execute(stmt)]


async def recent_ids(
    session: AsyncSession,
    *,
    author_id: uuid.UUID | None = None,
    community_id: uuid.UUID | None = None,
    limit: int,
) -> list[tuple[uuid.UUID, datetime]]:
    stmt = select(Post.id, Post.created_at).where(Post.deleted_at.is_(None))
    if author_id is not None:
        stmt = stmt.where(Post.author_id == author_id)
    if community_id is not None:
        stmt = stmt.where(Post.community_id == community_id)
    stmt = stmt.order_by(Post.created_at.desc(), Post.id.desc()).limit(limit)
    return [(pid, at) for pid, at in await session.execute(stmt)]


async def media_by_id(session: AsyncSession, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Media]:
    if not ids:
        return {}
    rows = await session.scalars(select(Media).where(Media.id.in_(list(set(ids)))))
    return {m.id: m for m in rows}


async def add(session: AsyncSession, post: Post) -> None:
    session.add(post)
    await session.flush()


async def soft_delete_by_author(
    session: AsyncSession, author_id: uuid.UUID, at: datetime
) -> list[tuple[uuid.UUID, uuid.UUID | None]]:
    """Soft-delete every live post of an author: (post id, community id) of each."""
    rows = await session.execute(
        update(Post)
        .where(Post.author_id == author_id, Post.deleted_at.is_(None))
        .values(deleted_at=at, updated_at=at)
        .returning(Post.id, Post.community_id)
    )
    return [(pid, cid) for pid, cid in rows]


async def lock_many(session: AsyncSession, ids: Sequence[uuid.UUID]) -> list[Post]:
    """Lock live posts (in id order, so concurrent lockers never deadlock)."""
    if not ids:
        return []
    rows = await session.scalars(
        select(Post)
        .where(Post.id.in_(sorted(set(ids))), Post.deleted_at.is_(None))
        .order_by(Post.id)
        .with_for_update()
    )
    return list(rows)
