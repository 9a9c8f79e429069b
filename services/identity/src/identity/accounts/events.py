"""Events the accounts feature publishes on ``identity.user.v1`` (through the outbox)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from kit.outbox import record_event
from sqlalchemy.ext.asyncio import AsyncSession

from identity.models import User

USER_REGISTERED = "identity.user.registered"
USER_UPDATED = "identity.user.updated"
USER_DELETED = "identity.user.deleted"


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def profile_data(user: User) -> dict[str, Any]:
    """The public profile as event data (never email or credentials)."""
    return {
        "user_id": str(user.id),
        "username": user.username,
        "display_name": user.display_name,
        "bio": user.bio,
        "avatar_url": user.avatar_url,
        "locale": user.locale,
        "created_at": _iso(user.created_at),
        "updated_at": _iso(user.updated_at),
    }


async def user_registered(session: AsyncSession, user: User) -> None:
    await record_event(session, type=USER_REGISTERED, subject=str(user.id), data=profile_data(user))


async def user_updated(session: AsyncSession, user: User) -> None:
    await record_event(session, type=USER_UPDATED, subject=str(user.id), data=profile_data(user))


async def user_deleted(session: AsyncSession, user: User, deleted_at: datetime) -> None:
    await record_event(
        session,
        type=USER_DELETED,
        subject=str(user.id),
        data={"user_id": str(user.id), "deleted_at": _iso(deleted_at)},
    )
