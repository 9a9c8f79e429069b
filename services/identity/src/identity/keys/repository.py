"""Every query on ``signing_keys``."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import or_, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from identity.models import SigningKey

# Serializes key creation and rotation across processes (app replicas, the CLI).
_ROTATION_LOCK = 0x1D_0001


async def lock_for_rotation(session: AsyncSession) -> None:
    """Take a transaction-scoped advisory lock; released at commit or rollback."""
    await session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _ROTATION_LOCK})


async def get_active(session: AsyncSession) -> SigningKey | None:
    return await session.scalar(select(SigningKey).where(SigningKey.active.is_(True)))


async def get(session: AsyncSession, kid: str) -> SigningKey | None:
    return await session.get(SigningKey, kid)


async def list_published(session: AsyncSession, now: datetime) -> list[SigningKey]:
    """Keys that belong in JWKS at ``now``: the active one and those not yet retired."""
    result = await session.scalars(
        select(SigningKey)
        .where(or_(SigningKey.active.is_(True), SigningKey.retire_at > now))
        .order_by(SigningKey.created_at.desc())
    )
    return list(result)


async def add(session: AsyncSession, key: SigningKey) -> None:
    session.add(key)
    await session.flush()
