"""Events on ``content.post.v1`` (key: post id), through the outbox."""

from __future__ import annotations

import uuid
from datetime import datetime

from kit.outbox import record_event
from sqlalchemy.ext.asyncio import AsyncSession

from content.events_common import iso
from content.posts.state import State, event_data

CREATED = "content.post.created"
UPDATED = "content.post.updated"
DELETED = "content.post.deleted"


async def post_changed(session: AsyncSession, state: State, *, created: bool) -> None:
    await record_event(
        session,
        type=CREATED if created else UPDATED,
        subject=state["post_id"],
        data=event_data(state),
    )


async def post_deleted(
    session: AsyncSession,
    *,
    post_id: uuid.UUID,
    author_id: uuid.UUID,
    community_id: uuid.UUID | None,
    at: datetime,
) -> None:
    await record_event(
        session,
        type=DELETED,
        subject=str(post_id),
        data={
            "post_id": str(post_id),
            "author_id": str(author_id),
            "community_id": str(community_id) if community_id else None,
            "deleted_at": iso(at),
        },
    )
