"""Every query of the digest job."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from kit.db import Database
from kit.housekeeping import delete_in_batches
from sqlalchemy import or_, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from messaging.models import Digest, Notification, NotificationSettings


async def due_recipients(
    session: AsyncSession, cutoff: datetime, limit: int
) -> Sequence[NotificationSettings]:
    """Users with a digest address whose last digest run is at or before ``cutoff``,
    locked (another worker's are skipped)."""
    rows = await session.scalars(
        select(NotificationSettings)
        .where(
            NotificationSettings.email.is_not(None),
            or_(
                NotificationSettings.digest_cursor.is_(None),
                NotificationSettings.digest_cursor <= cutoff,
            ),
        )
        .order_by(NotificationSettings.digest_cursor.nulls_first())
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return list(rows)


async def unread_since(
    session: AsyncSession,
    user_id: uuid.UUID,
    types: Sequence[str],
    since: datetime | None,
    until: datetime,
) -> Sequence[Notification]:
    query = select(Notification).where(
        Notification.user_id == user_id,
        Notification.read_at.is_(None),
        Notification.type.in_(list(types)),
        Notification.updated_at <= until,
    )
    if since is not None:
        query = query.where(Notification.updated_at > since)
    return list(await session.scalars(query.order_by(Notification.updated_at.desc()).limit(200)))


async def next_due(session: AsyncSession, now: datetime) -> Digest | None:
    """The pending digest due soonest, locked so no other worker sends it meanwhile."""
    return await session.scalar(
        select(Digest)
        .where(Digest.status == "pending", Digest.next_attempt_at <= now)
        .order_by(Digest.next_attempt_at)
        .limit(1)
        .with_for_update(skip_locked=True)
    )


_PRUNE_DONE = text(
    "DELETE FROM digests WHERE id IN (SELECT id FROM digests"
    " WHERE status IN ('sent', 'failed') AND created_at < :before LIMIT :batch)"
)


async def prune_done(db: Database, *, before: datetime, batch: int) -> int:
    """Delete sent and given-up digests created before ``before``; returns how many."""
    return await delete_in_batches(db, _PRUNE_DONE, batch, before=before)
