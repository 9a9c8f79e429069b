"""Every query on reactions."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from content.models import Reaction


async def add(
    session: AsyncSession,
    target_type: str,
    target_id: uuid.UUID,
    user_id: uuid.UUID,
    kind: str,
    at: datetime,
) -> bool:
    """True when the reaction is new."""
    inserted = await session.scalar(
        insert(Reaction)
        .values(
            target_type=target_type, target_id=target_id, user_id=user_id, kind=kind, created_at=at
        )
        .on_conflict_do_nothing()
        .returning(Reaction.kind)
    )
    return inserted is not None


async def remove(
    session: AsyncSession, target_type: str, target_id: uuid.UUID, user_id: uuid.UUID, kind: str
) -> bool:
    """True when there was such a reaction."""
    removed = await session.scalar(
        delete(Reaction)
        .where(
            Reaction.target_type == target_type,
            Reaction.target_id == target_id,
            Reaction.user_id == user_id,
            Reaction.kind == kind,
        )
        .returning(Reaction.kind)
    )
    return removed is not None


async def kinds_of(
    session: AsyncSession, target_type: str, target_id: uuid.UUID, user_id: uuid.UUID
) -> list[str]:
    rows = await session.scalars(
        select(Reaction.kind).where(
            Reaction.target_type == target_type,
            Reaction.target_id == target_id,
            Reaction.user_id == user_id,
        )
    )
    return sorted(rows)
