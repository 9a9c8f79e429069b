"""Fan-out on write, driven by content's own events (consumer group ``content-timelines``).

Consuming ``content.post.v1`` rather than pushing from the request keeps the write path
short and makes delivery as reliable as the outbox: a post committed is a post fanned
out, even across a crash. Redis operations are idempotent (``ZADD``/``ZREM``), so a
redelivered event is harmless even before the inbox check.

A post goes to its author, to the author's followers when they are at most
``fanout_max_audience`` (public and followers-only posts outside communities, and
public posts in public communities), and to the members of its community when they are
at most that many; never to anyone in a block with the author. Bigger audiences read
such posts at read time instead.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING

from kit.events import CloudEvent
from sqlalchemy.ext.asyncio import AsyncSession

from content.communities import repository as communities
from content.graph import repository as graph
from content.posts import repository as posts

if TYPE_CHECKING:
    from content.runtime import Runtime

TOPICS = ("content.post.v1", "content.community.v1")
GROUP = "content-timelines"
#: Posts copied into a home timeline when its owner follows someone or joins a community.
BACKFILL = 50


async def audience(
    session: AsyncSession,
    rt: Runtime,
    *,
    author_id: uuid.UUID,
    community_id: uuid.UUID | None,
    community_visibility: str | None,
    visibility: str,
) -> set[uuid.UUID]:
    limit = rt.settings.fanout_max_audience
    users: set[uuid.UUID] = {author_id}
    members_only = community_id is not None and (
        community_visibility != "public" or visibility == "community"
    )
    if not members_only and await graph.follower_count(session, author_id) <= limit:
        users.update(await graph.follower_ids(session, author_id))
    if community_id is not None and await communities.member_count(session, community_id) <= limit:
        users.update(await communities.member_ids(session, community_id))
    return users - await graph.block_partners(session, author_id)


def _uuid(value: object) -> uuid.UUID | None:
    return uuid.UUID(str(value)) if value else None


async def handle(session: AsyncSession, rt: Runtime, event: CloudEvent) -> None:
    """Apply one content event to the home timelines."""
    data = event.data
    if event.type == "content.post.created":
        author_id = uuid.UUID(data["author_id"])
        users = await audience(
            session,
            rt,
            author_id=author_id,
            community_id=_uuid(data.get("community_id")),
            community_visibility=data.get("community_visibility"),
            visibility=data["visibility"],
        )
        post = await posts.get(session, uuid.UUID(data["post_id"]))
        if post is None or post.deleted_at is not None:
            return  # deleted before it was fanned out
        await rt.timelines.push(post.id, datetime.fromisoformat(data["created_at"]), users)
    elif event.type == "content.post.deleted":
        post_id = uuid.UUID(data["post_id"])
        author_id = uuid.UUID(data["author_id"])
        community_id = _uuid(data.get("community_id"))
        users = await audience(
            session,
            rt,
            author_id=author_id,
            community_id=community_id,
            community_visibility=None,
            visibility="community" if community_id else "public",
        )
        users.update(await graph.follower_ids(session, author_id))
        await rt.timelines.remove([post_id], users)
        await rt.posts.invalidate(post_id)
    elif event.type == "content.community.member_joined":
        community_id = uuid.UUID(data["community_id"])
        recent = await posts.recent_ids(session, community_id=community_id, limit=BACKFILL)
        await rt.timelines.add_many(uuid.UUID(data["user_id"]), recent)
    elif event.type == "content.community.member_left":
        community_id = uuid.UUID(data["community_id"])
        user_id = uuid.UUID(data["user_id"])
        recent = await posts.recent_ids(
            session, community_id=community_id, limit=rt.settings.timeline_max_entries
        )
        await rt.timelines.remove([pid for pid, _ in recent], [user_id])
