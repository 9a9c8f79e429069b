"""Events on ``content.community.v1`` (key: community id), through the outbox.

A role change is published as ``member_joined`` carrying the new role: consumers keep
one membership per (community, user) and take the latest.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from kit.outbox import record_event
from sqlalchemy.ext.asyncio import AsyncSession

from content.events_common import iso
from content.models import Community

CREATED = "content.community.created"
UPDATED = "content.community.updated"
MEMBER_JOINED = "content.community.member_joined"
MEMBER_LEFT = "content.community.member_left"


def community_data(c: Community) -> dict[str, object]:
    return {
        "community_id": str(c.id),
        "slug": c.slug,
        "name": c.name,
        "description": c.description,
        "visibility": c.visibility,
        "category": c.category,
        "tags": list(c.tags),
        "owner_id": str(c.owner_id),
        "member_count": c.member_count,
        "created_at": iso(c.created_at),
        "updated_at": iso(c.updated_at),
    }


async def community_changed(session: AsyncSession, c: Community, *, created: bool) -> None:
    await record_event(
        session,
        type=CREATED if created else UPDATED,
        subject=str(c.id),
        data=community_data(c),
    )


async def membership_changed(
    session: AsyncSession,
    *,
    community_id: uuid.UUID,
    user_id: uuid.UUID,
    role: str,
    visibility: str,
    at: datetime,
    joined: bool,
) -> None:
    await record_event(
        session,
        type=MEMBER_JOINED if joined else MEMBER_LEFT,
        subject=str(community_id),
        data={
            "community_id": str(community_id),
            "user_id": str(user_id),
            "role": role,
            "at": iso(at),
            "visibility": visibility,
        },
    )
