"""Follows and blocks.

Rules: nobody follows or blocks themselves (422); a block in either direction
forbids following (403); blocking removes the follows both ways. Every change
records its event in the caller's transaction; repeating a change that is
already in effect changes nothing and records nothing.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from kit.errors import Forbidden, NotFound, UnprocessableEntity
from kit.pagination import decode_position, encode_position
from sqlalchemy.ext.asyncio import AsyncSession

from identity.accounts import repository as users
from identity.graph import events, repository
from identity.graph.schemas import GraphPage, GraphUser


async def _require_other_user(
    session: AsyncSession, actor_id: uuid.UUID, target_id: uuid.UUID, verb: str
) -> None:
    if actor_id == target_id:
        raise UnprocessableEntity(f"You cannot {verb} yourself.")
    if await users.get_live(session, target_id) is None:
        raise NotFound("No such user.")


async def follow(
    session: AsyncSession, actor_id: uuid.UUID, target_id: uuid.UUID, now: datetime | None = None
) -> bool:
    """Make ``actor_id`` follow ``target_id``; True when the follow is new.

    404 for an unknown user, 422 for oneself, 403 when either blocks the other.
    """
    now = now or datetime.now(UTC)
    await _require_other_user(session, actor_id, target_id, "follow")
    await repository.lock_pair(session, actor_id, target_id)
    if await repository.blocks_between(session, actor_id, target_id):
        raise Forbidden("You cannot follow this user.", title="Follow not allowed")
    created_at = await repository.insert_follow(session, actor_id, target_id, now)
    if created_at is None:
        return False
    await events.follow_created(session, actor_id, target_id, created_at)
    return True


async def unfollow(
    session: AsyncSession, actor_id: uuid.UUID, target_id: uuid.UUID, now: datetime | None = None
) -> bool:
    """Stop following; True when there was a follow to remove. 422 for oneself."""
    if actor_id == target_id:
        raise UnprocessableEntity("You cannot unfollow yourself.")
    now = now or datetime.now(UTC)
    await repository.lock_pair(session, actor_id, target_id)
    removed = await repository.delete_follow(session, actor_id, target_id)
    if removed:
        await events.follow_removed(session, actor_id, target_id, now)
    return removed


async def block(
    session: AsyncSession, actor_id: uuid.UUID, target_id: uuid.UUID, now: datetime | None = None
) -> bool:
    """Block ``target_id``, ending follows both ways; True when the block is new.

    404 for an unknown user, 422 for oneself.
    """
    now = now or datetime.now(UTC)
    await _require_other_user(session, actor_id, target_id, "block")
    await repository.lock_pair(session, actor_id, target_id)
    created_at = await repository.insert_block(session, actor_id, target_id, now)
    if created_at is None:
        return False
    for follower_id, followee_id in await repository.delete_follows_between(
        session, actor_id, target_id
    ):
        await events.follow_removed(session, follower_id, followee_id, now)
    await events.block_created(session, actor_id, target_id, created_at)
    return True


async def unblock(
    session: AsyncSession, actor_id: uuid.UUID, target_id: uuid.UUID, now: datetime | None = None
) -> bool:
    """Lift a block; True when there was one. Follows ended by it are not restored."""
    if actor_id == target_id:
        raise UnprocessableEntity("You cannot unblock yourself.")
    now = now or datetime.now(UTC)
    await repository.lock_pair(session, actor_id, target_id)
    removed = await repository.delete_block(session, actor_id, target_id)
    if removed:
        await events.block_removed(session, actor_id, target_id, now)
    return removed


async def list_edges(
    session: AsyncSession,
    *,
    user_id: uuid.UUID,
    direction: str,
    cursor: str | None,
    limit: int,
) -> GraphPage:
    """One page of followers or followees, newest first. 404 for an unknown user,
    400 for a tampered cursor."""
    if await users.get_live(session, user_id) is None:
        raise NotFound("No such user.")
    after = decode_position(cursor)
    rows = await repository.list_edges(
        session, user_id=user_id, direction=direction, after=after, limit=limit + 1
    )
    page, more = rows[:limit], len(rows) > limit
    items = [
        GraphUser(
            id=u.id,
            username=u.username,
            display_name=u.display_name,
            avatar_url=u.avatar_url,
            since=since,
        )
        for u, since in page
    ]
    next_cursor = encode_position(page[-1][1], page[-1][0].id) if more and page else None
    return GraphPage(items=items, next_cursor=next_cursor)


async def remove_all_for_user(session: AsyncSession, user_id: uuid.UUID, now: datetime) -> None:
    """End every follow and block involving ``user_id`` (account deletion), with events."""
    for follower_id, followee_id in await repository.delete_all_follows_of(session, user_id):
        await events.follow_removed(session, follower_id, followee_id, now)
    for blocker_id, blocked_id in await repository.delete_all_blocks_of(session, user_id):
        await events.block_removed(session, blocker_id, blocked_id, now)
