"""Every query on communities and memberships."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import and_, delete, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from content.models import Community, Membership


async def get(
    session: AsyncSession, community_id: uuid.UUID, *, for_update: bool = False
) -> Community | None:
    stmt = select(Community).where(Community.id == community_id)
    if for_update:
        stmt = stmt.with_for_update()
    return await session.scalar(stmt)


async def get_by_slug(session: AsyncSession, slug: str) -> Community | None:
    return await session.scalar(select(Community).where(Community.slug == slug))


async def slug_taken(session: AsyncSession, slug: str) -> bool:
    return (await session.scalar(select(Community.id).where(Community.slug == slug))) is not None


async def add(session: AsyncSession, community: Community) -> None:
    session.add(community)
    await session.flush()


async def role_of(session: AsyncSession, community_id: uuid.UUID, user_id: uuid.UUID) -> str | None:
    return await session.scalar(
        select(Membership.role).where(
            Membership.community_id == community_id, Membership.user_id == user_id
        )
    )


async def upsert_member(
    session: AsyncSession, community_id: uuid.UUID, user_id: uuid.UUID, role: str, at: datetime
) -> tuple[bool, bool]:
    """Make the user a member with ``role``: (new member, role changed)."""
    current = await role_of(session, community_id, user_id)
    if current == role:
        return False, False
    if current is None:
        await session.execute(
            insert(Membership).values(
                community_id=community_id, user_id=user_id, role=role, joined_at=at
            )
        )
        await session.execute(
            update(Community)
            .where(Community.id == community_id)
            .values(member_count=Community.member_count + 1)
        )
        return True, False
    await session.execute(
        update(Membership)
        .where(Membership.community_id == community_id, Membership.user_id == user_id)
        .values(role=role)
    )
    return False, True


async def remove_member(
    session: AsyncSession, community_id: uuid.UUID, user_id: uuid.UUID
) -> str | None:
    """Remove a membership; the role it had, or None when there was none."""
    role = await session.scalar(
        delete(Membership)
        .where(Membership.community_id == community_id, Membership.user_id == user_id)
        .returning(Membership.role)
    )
    if role is not None:
        await session.execute(
            update(Community)
            .where(Community.id == community_id)
            .values(member_count=func.greatest(0, Community.member_count - 1))
        )
    return role


async def member_count(session: AsyncSession, community_id: uuid.UUID) -> int:
    count = await session.scalar(select(Community.member_count).where(Community.id == community_id))
    return int(count or 0)


async def member_of(
    session: AsyncSession, user_id: uuid.UUID, community_ids: Sequence[uuid.UUID]
) -> set[uuid.UUID]:
    """Those of ``community_ids`` the user is a member of."""
    if not community_ids:
        return set()
    rows = await session.scalars(
        select(Membership.community_id).where(
            Membership.user_id == user_id, Membership.community_id.in_(list(set(community_ids)))
        )
    )
    return set(rows)


async def member_ids(session: AsyncSession, community_id: uuid.UUID) -> list[uuid.UUID]:
    rows = await session.scalars(
        select(Membership.user_id).where(Membership.community_id == community_id)
    )
    return list(rows)


async def joined_with_many_members(
    session: AsyncSession, user_id: uuid.UUID, threshold: int
) -> list[uuid.UUID]:
    """Communities the user joined whose posts are not fanned out (over ``threshold``)."""
    rows = await session.scalars(
        select(Membership.community_id)
        .join(Community, Community.id == Membership.community_id)
        .where(Membership.user_id == user_id, Community.member_count > threshold)
    )
    return list(rows)


async def list_page(
    session: AsyncSession,
    *,
    category: str | None,
    tag: str | None,
    member_id: uuid.UUID | None,
    before: tuple[datetime, uuid.UUID] | None,
    limit: int,
) -> list[Community]:
    stmt = select(Community)
    if category is not None:
        stmt = stmt.where(Community.category == category)
    if tag is not None:
        stmt = stmt.where(Community.tags.contains([tag]))
    if member_id is not None:
        stmt = stmt.join(
            Membership,
            and_(Membership.community_id == Community.id, Membership.user_id == member_id),
        )
    if before is not None:
        at, cid = before
        stmt = stmt.where(
            or_(Community.created_at < at, and_(Community.created_at == at, Community.id < cid))
        )
    stmt = stmt.order_by(Community.created_at.desc(), Community.id.desc()).limit(limit)
    return list(await session.scalars(stmt))


async def members_page(
    session: AsyncSession,
    community_id: uuid.UUID,
    *,
    before: tuple[datetime, uuid.UUID] | None,
    limit: int,
) -> list[Membership]:
    stmt = select(Membership).where(Membership.community_id == community_id)
    if before is not None:
        at, uid = before
        stmt = stmt.where(
            or_(
                Membership.joined_at < at,
                and_(Membership.joined_at == at, Membership.user_id < uid),
            )
        )
    stmt = stmt.order_by(Membership.joined_at.desc(), Membership.user_id.desc()).limit(limit)
    return list(await session.scalars(stmt))


async def visibility_of(
    session: AsyncSession, community_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, str]:
    if not community_ids:
        return {}
    rows = await session.execute(
        select(Community.id, Community.visibility).where(Community.id.in_(list(set(community_ids))))
    )
    return {cid: vis for cid, vis in rows}


async def joined_ids(session: AsyncSession, user_id: uuid.UUID) -> list[uuid.UUID]:
    rows = await session.scalars(
        select(Membership.community_id).where(Membership.user_id == user_id)
    )
    return list(rows)
