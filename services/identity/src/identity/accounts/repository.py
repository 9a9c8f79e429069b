"""Every query on ``users``."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from identity.models import User


async def add(session: AsyncSession, user: User) -> None:
    session.add(user)
    await session.flush()


async def get_live(session: AsyncSession, user_id: uuid.UUID, *, lock: bool = False) -> User | None:
    """The user unless deleted; ``lock`` takes a row lock for a read-modify-write."""
    query = select(User).where(User.id == user_id, User.deleted_at.is_(None))
    if lock:
        query = query.with_for_update()
    return await session.scalar(query)


async def get_live_by_username_key(session: AsyncSession, username_key: str) -> User | None:
    return await session.scalar(
        select(User).where(User.username_key == username_key, User.deleted_at.is_(None))
    )


async def get_live_by_email_key(session: AsyncSession, email_key: str) -> User | None:
    return await session.scalar(
        select(User).where(User.email_key == email_key, User.deleted_at.is_(None))
    )


async def email_or_username_taken(
    session: AsyncSession, *, email_key: str, username_key: str
) -> tuple[bool, bool]:
    """Whether a live account already has this email / this username."""
    rows = (
        await session.execute(
            select(User.email_key, User.username_key).where(
                User.deleted_at.is_(None),
                (User.email_key == email_key) | (User.username_key == username_key),
            )
        )
    ).all()
    return (
        any(r.email_key == email_key for r in rows),
        any(r.username_key == username_key for r in rows),
    )
