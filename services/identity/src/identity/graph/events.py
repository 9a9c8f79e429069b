"""Events the graph feature publishes on ``identity.graph.v1`` (through the outbox).

Follow events are keyed by the follower and block events by the blocker, so
one user's graph changes stay in order.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from kit.outbox import record_event
from sqlalchemy.ext.asyncio import AsyncSession

FOLLOW_CREATED = "identity.follow.created"
FOLLOW_REMOVED = "identity.follow.removed"
BLOCK_CREATED = "identity.block.created"
BLOCK_REMOVED = "identity.block.removed"


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


async def follow_created(
    session: AsyncSession, follower_id: uuid.UUID, followee_id: uuid.UUID, at: datetime
) -> None:
    await record_event(
        session,
        type=FOLLOW_CREATED,
        subject=str(follower_id),
        data={
            "follower_id": str(follower_id),
            "followee_id": str(followee_id),
            "created_at": _iso(at),
        },
    )


async def follow_removed(
    session: AsyncSession, follower_id: uuid.UUID, followee_id: uuid.UUID, at: datetime
) -> None:
    await record_event(
        session,
        type=FOLLOW_REMOVED,
        subject=str(follower_id),
        data={
            "follower_id": str(follower_id),
            "followee_id": str(followee_id),
            "removed_at": _iso(at),
        },
    )


async def block_created(
    session: AsyncSession, blocker_id: uuid.UUID, blocked_id: uuid.UUID, at: datetime
) -> None:
    await record_event(
        session,
        type=BLOCK_CREATED,
        subject=str(blocker_id),
        data={"blocker_id": str(blocker_id), "blocked_id": str(blocked_id), "created_at": _iso(at)},
    )


async def block_removed(
    session: AsyncSession, blocker_id: uuid.UUID, blocked_id: uuid.UUID, at: datetime
) -> None:
    await record_event(
        session,
        type=BLOCK_REMOVED,
        subject=str(blocker_id),
        data={"blocker_id": str(blocker_id), "blocked_id": str(blocked_id), "removed_at": _iso(at)},
    )
