"""Events the notifications feature publishes on ``messaging.notification.v1``."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from kit.outbox import record_event
from sqlalchemy.ext.asyncio import AsyncSession

from messaging.clock import iso
from messaging.models import Notification

CREATED = "messaging.notification.created"
UPDATED = "messaging.notification.updated"
READ = "messaging.notification.read"


def state(n: Notification) -> dict[str, object]:
    return {
        "notification_id": str(n.id),
        "user_id": str(n.user_id),
        "type": n.type,
        "actor_ids": [str(a) for a in n.actor_ids],
        "actor_count": n.actor_count,
        "subject_type": n.subject_type,
        "subject_id": str(n.subject_id) if n.subject_id else None,
        "summary": n.summary,
        "created_at": iso(n.created_at),
        "updated_at": iso(n.updated_at),
        "read": n.read_at is not None,
    }


async def notification_changed(session: AsyncSession, n: Notification, *, new: bool) -> None:
    await record_event(
        session, type=CREATED if new else UPDATED, subject=str(n.user_id), data=state(n)
    )


async def notifications_read(
    session: AsyncSession, user_id: uuid.UUID, ids: Sequence[uuid.UUID], at: datetime
) -> None:
    """``ids`` empty means every notification of the user."""
    await record_event(
        session,
        type=READ,
        subject=str(user_id),
        data={"user_id": str(user_id), "notification_ids": [str(i) for i in ids], "at": iso(at)},
    )
