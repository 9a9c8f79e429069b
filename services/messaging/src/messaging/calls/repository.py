"""Every query on ``call_rooms`` and ``call_tokens``."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from messaging.models import CallRoom, CallToken


async def get_room(
    session: AsyncSession, room_id: uuid.UUID, *, for_update: bool = False
) -> CallRoom | None:
    query = select(CallRoom).where(CallRoom.id == room_id)
    if for_update:
        query = query.with_for_update()
    return await session.scalar(query)


async def has_token(session: AsyncSession, room_id: uuid.UUID, user_id: uuid.UUID) -> bool:
    found = await session.scalar(
        select(CallToken.id)
        .where(CallToken.room_id == room_id, CallToken.user_id == user_id)
        .limit(1)
    )
    return found is not None


async def due_for_expiry(session: AsyncSession, now: datetime, limit: int) -> Sequence[CallRoom]:
    """Open rooms past their expiry, locked (rooms another worker holds are skipped)."""
    rows = await session.scalars(
        select(CallRoom)
        .where(CallRoom.closed_at.is_(None), CallRoom.expires_at <= now)
        .order_by(CallRoom.expires_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return list(rows)
