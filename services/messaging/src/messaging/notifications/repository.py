"""Every query on notifications, their actors, preferences and delivery settings."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, func, select, text, tuple_, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from messaging.models import (
    Digest,
    Notification,
    NotificationActor,
    NotificationPreference,
    NotificationSettings,
)


async def lock_batch(
    session: AsyncSession,
    user_id: uuid.UUID,
    type_: str,
    subject_type: str | None,
    subject_id: uuid.UUID | None,
) -> None:
    """Serialize updates of one (recipient, type, subject) batch until the transaction ends."""
    await session.execute(
        text("SELECT pg_advisory_xact_lock(hashtextextended(:k, 11))"),
        {"k": f"notif:{user_id}:{type_}:{subject_type}:{subject_id}"},
    )


async def latest_in_batch(
    session: AsyncSession,
    user_id: uuid.UUID,
    type_: str,
    subject_type: str | None,
    subject_id: uuid.UUID | None,
) -> Notification | None:
    """The newest notification of the recipient with this type and subject."""
    query = select(Notification).where(Notification.user_id == user_id, Notification.type == type_)
    if subject_id is None:
        query = query.where(Notification.subject_id.is_(None))
    else:
        query = query.where(
            Notification.subject_id == subject_id, Notification.subject_type == subject_type
        )
    return await session.scalar(query.order_by(Notification.created_at.desc()).limit(1))


async def add_actor(session: AsyncSession, notification_id: uuid.UUID, actor_id: uuid.UUID) -> bool:
    """Count ``actor_id`` for the notification; True when they were not counted yet."""
    result = await session.execute(
        insert(NotificationActor)
        .values(notification_id=notification_id, actor_id=actor_id)
        .on_conflict_do_nothing()
        .returning(NotificationActor.actor_id)
    )
    return result.first() is not None


async def preferences(session: AsyncSession, user_id: uuid.UUID) -> dict[str, str]:
    rows = await session.execute(
        select(NotificationPreference.type, NotificationPreference.channel).where(
            NotificationPreference.user_id == user_id
        )
    )
    return {r[0]: r[1] for r in rows}


async def put_preference(
    session: AsyncSession, user_id: uuid.UUID, type_: str, channel: str
) -> None:
    stmt = insert(NotificationPreference).values(user_id=user_id, type=type_, channel=channel)
    await session.execute(
        stmt.on_conflict_do_update(
            index_elements=[NotificationPreference.user_id, NotificationPreference.type],
            set_={"channel": stmt.excluded.channel},
        )
    )


async def get_settings(session: AsyncSession, user_id: uuid.UUID) -> NotificationSettings | None:
    return await session.get(NotificationSettings, user_id)


async def settings_for_update(
    session: AsyncSession, user_id: uuid.UUID, now: datetime
) -> NotificationSettings:
    """The user's settings row, created if missing, locked for the transaction."""
    await session.execute(
        insert(NotificationSettings)
        .values(user_id=user_id, updated_at=now)
        .on_conflict_do_nothing()
    )
    row = await session.scalar(
        select(NotificationSettings)
        .where(NotificationSettings.user_id == user_id)
        .with_for_update()
    )
    assert row is not None
    return row


async def page(
    session: AsyncSession,
    user_id: uuid.UUID,
    *,
    after: tuple[datetime, uuid.UUID] | None,
    limit: int,
    unread_only: bool,
) -> Sequence[Notification]:
    """Newest first on (updated_at, id)."""
    query = select(Notification).where(Notification.user_id == user_id)
    if unread_only:
        query = query.where(Notification.read_at.is_(None))
    if after is not None:
        query = query.where(
            tuple_(Notification.updated_at, Notification.id) < tuple_(after[0], after[1])
        )
    query = query.order_by(Notification.updated_at.desc(), Notification.id.desc()).limit(limit)
    return list(await session.scalars(query))


async def unread_count(session: AsyncSession, user_id: uuid.UUID) -> int:
    count = await session.scalar(
        select(func.count())
        .select_from(Notification)
        .where(Notification.user_id == user_id, Notification.read_at.is_(None))
    )
    return int(count or 0)


async def mark_read(
    session: AsyncSession,
    user_id: uuid.UUID,
    now: datetime,
    *,
    ids: Sequence[uuid.UUID] | None = None,
    subject_type: str | None = None,
    subject_id: uuid.UUID | None = None,
    type_: str | None = None,
) -> list[uuid.UUID]:
    """Mark the recipient's unread notifications read (all, or those matching); their ids."""
    stmt = update(Notification).where(
        Notification.user_id == user_id, Notification.read_at.is_(None)
    )
    if ids is not None:
        stmt = stmt.where(Notification.id.in_(list(ids)))
    if type_ is not None:
        stmt = stmt.where(Notification.type == type_)
    if subject_id is not None:
        stmt = stmt.where(
            Notification.subject_id == subject_id, Notification.subject_type == subject_type
        )
    result = await session.execute(stmt.values(read_at=now).returning(Notification.id))
    return [r[0] for r in result]


async def forget_user(session: AsyncSession, user_id: uuid.UUID) -> None:
    """Delete everything kept for a deleted account's own inbox, its email address and
    the digests built for it (sent or not: they hold the address and the summaries)."""
    await session.execute(delete(Notification).where(Notification.user_id == user_id))
    await session.execute(delete(Digest).where(Digest.user_id == user_id))
    await session.execute(
        delete(NotificationPreference).where(NotificationPreference.user_id == user_id)
    )
    await session.execute(
        delete(NotificationSettings).where(NotificationSettings.user_id == user_id)
    )
