"""Content's read model of identity, fed by ``identity.user.v1`` and ``identity.graph.v1``
(consumer group ``content``).

Each handler runs inside the consumer's transaction together with the inbox row, so a
redelivered event changes nothing. Profile updates apply only when newer than what is
stored. Follows, unfollows and blocks also adjust home timelines in Redis (backfill or
removal); those writes are idempotent, and reads re-check everything anyway.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING

from kit.consumer import PermanentError
from kit.events import CloudEvent
from sqlalchemy.ext.asyncio import AsyncSession

from content.graph import repository
from content.posts import repository as posts
from content.posts import service as post_service
from content.text import username_key

if TYPE_CHECKING:
    from content.runtime import Runtime

TOPICS = ("identity.user.v1", "identity.graph.v1")
GROUP = "content"
BACKFILL = 50


def _id(data: dict[str, object], field: str) -> uuid.UUID:
    return uuid.UUID(str(data[field]))


def _at(data: dict[str, object], field: str) -> datetime:
    return datetime.fromisoformat(str(data[field]))


async def handle(session: AsyncSession, rt: Runtime, event: CloudEvent) -> None:
    """Apply one identity event. Unknown types are ignored.

    Raises :class:`PermanentError` for an event that contradicts itself (a user
    following or blocking themselves), which no retry can apply.
    """
    data = event.data
    kind = event.type
    if kind in ("identity.user.registered", "identity.user.updated"):
        await repository.upsert_user(
            session,
            user_id=_id(data, "user_id"),
            username=str(data["username"]),
            username_key=username_key(str(data["username"])),
            display_name=str(data["display_name"]),
            avatar_url=data.get("avatar_url"),
            updated_at=_at(data, "updated_at"),
        )
    elif kind == "identity.user.deleted":
        user_id = _id(data, "user_id")
        at = _at(data, "deleted_at")
        await repository.mark_user_deleted(session, user_id, at)
        await repository.clear_user_graph(session, user_id)
        await post_service.delete_all_by_author(session, user_id, at)
    elif kind in ("identity.follow.created", "identity.follow.removed"):
        follower, followee = _id(data, "follower_id"), _id(data, "followee_id")
        if follower == followee:
            raise PermanentError("a user cannot follow themselves")
        if kind == "identity.follow.created":
            if await repository.insert_follow(session, follower, followee, _at(data, "created_at")):
                recent = await posts.recent_ids(session, author_id=followee, limit=BACKFILL)
                await rt.timelines.add_many(follower, recent)
        elif await repository.delete_follow(session, follower, followee):
            recent = await posts.recent_ids(
                session, author_id=followee, limit=rt.settings.timeline_max_entries
            )
            await rt.timelines.remove([pid for pid, _ in recent], [follower])
    elif kind in ("identity.block.created", "identity.block.removed"):
        blocker, blocked = _id(data, "blocker_id"), _id(data, "blocked_id")
        if blocker == blocked:
            raise PermanentError("a user cannot block themselves")
        if kind == "identity.block.created":
            if await repository.insert_block(session, blocker, blocked, _at(data, "created_at")):
                limit = rt.settings.timeline_max_entries
                for owner, other in ((blocker, blocked), (blocked, blocker)):
                    recent = await posts.recent_ids(session, author_id=other, limit=limit)
                    await rt.timelines.remove([pid for pid, _ in recent], [owner])
        else:
            await repository.delete_block(session, blocker, blocked)
