"""Every query on media objects."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from content.models import Media


async def get(session: AsyncSession, media_id: uuid.UUID) -> Media | None:
    return await session.scalar(select(Media).where(Media.id == media_id))


async def add(session: AsyncSession, media: Media) -> None:
    session.add(media)
    await session.flush()
