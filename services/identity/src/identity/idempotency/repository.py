"""Every query on ``idempotency_keys``."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from identity.models import IdempotencyRecord


async def get_live(
    session: AsyncSession, scope: str, key: str, now: datetime
) -> IdempotencyRecord | None:
    return await session.scalar(
        select(IdempotencyRecord).where(
            IdempotencyRecord.scope == scope,
            IdempotencyRecord.key == key,
            IdempotencyRecord.expires_at > now,
        )
    )


async def put(session: AsyncSession, record: IdempotencyRecord) -> None:
    """Store ``record``, replacing an expired record of the same key."""
    await session.execute(
        delete(IdempotencyRecord).where(
            IdempotencyRecord.scope == record.scope,
            IdempotencyRecord.key == record.key,
            IdempotencyRecord.expires_at <= record.created_at,
        )
    )
    session.add(record)
    await session.flush()
