"""Events on ``content.reaction.v1`` (key: the target's id), through the outbox."""

from __future__ import annotations

import uuid
from datetime import datetime

from kit.outbox import record_event
from sqlalchemy.ext.asyncio import AsyncSession

from content.events_common import iso

ADDED = "content.reaction.added"
REMOVED = "content.reaction.removed"


async def reaction_changed(
    session: AsyncSession,
    *,
    added: bool,
    target_type: str,
    target_id: uuid.UUID,
    post_id: uuid.UUID,
    target_author_id: uuid.UUID,
    user_id: uuid.UUID,
    kind: str,
    at: datetime,
    counts: dict[str, int],
) -> None:
    await record_event(
        session,
        type=ADDED if added else REMOVED,
        subject=str(target_id),
        data={
            "target_type": target_type,
            "target_id": str(target_id),
            "post_id": str(post_id),
            "target_author_id": str(target_author_id),
            "user_id": str(user_id),
            "kind": kind,
            "at": iso(at),
            "counts": counts,
        },
    )
