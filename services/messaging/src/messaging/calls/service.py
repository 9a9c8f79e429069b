"""Call rooms and their single-use join tokens.

The creator owns a room. Only the owner mints tokens, closes the room, and (with the
users holding a token) sees it; for anyone else it does not exist (404). A token is
returned once, to the owner; only its SHA-256 is stored and published
(``messaging.call.token_issued``), and the realtime service, which relays the
signaling, admits one join per token, for that user, before the room expires. Rooms
expire ``call_room_ttl_s`` after creation unless the owner asks for less (or up to
``call_room_max_ttl_s``); :func:`expire_rooms` closes expired rooms with reason
``expired``. Every change records its event in the caller's transaction.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from kit.errors import Forbidden, Gone, NotFound, UnprocessableEntity
from kit.ids import uuid7
from sqlalchemy.ext.asyncio import AsyncSession

from messaging.calls import events, repository
from messaging.calls.schemas import RoomIn, RoomOut, TokenOut
from messaging.calls.tokens import new_join_token
from messaging.graph import repository as graph
from messaging.models import CallRoom, CallToken
from messaging.settings import MessagingSettings

NOT_FOUND = "No such call room."


def is_open(room: CallRoom, now: datetime) -> bool:
    return room.closed_at is None and room.expires_at > now


def to_out(room: CallRoom, now: datetime) -> RoomOut:
    return RoomOut(
        id=room.id,
        owner_id=room.owner_id,
        title=room.title,
        created_at=room.created_at,
        expires_at=room.expires_at,
        closed_at=room.closed_at,
        close_reason=room.close_reason,
        open=is_open(room, now),
    )


async def create_room(
    session: AsyncSession,
    settings: MessagingSettings,
    owner_id: uuid.UUID,
    body: RoomIn,
    now: datetime,
) -> CallRoom:
    """A new room owned by the caller. 422 when ``ttl_s`` exceeds the allowed maximum."""
    ttl = body.ttl_s or settings.call_room_ttl_s
    if ttl > settings.call_room_max_ttl_s:
        raise UnprocessableEntity(
            f"ttl_s is at most {settings.call_room_max_ttl_s} seconds.", title="Room too long"
        )
    room = CallRoom(
        id=uuid7(),
        owner_id=owner_id,
        title=body.title or None,
        created_at=now,
        expires_at=now + timedelta(seconds=ttl),
    )
    session.add(room)
    await session.flush()
    await events.room_created(session, room)
    return room


async def get_room(session: AsyncSession, viewer_id: uuid.UUID, room_id: uuid.UUID) -> CallRoom:
    """The room, for its owner or a user holding a token for it; 404 for anyone else."""
    room = await repository.get_room(session, room_id)
    if room is None:
        raise NotFound(NOT_FOUND)
    if room.owner_id != viewer_id and not await repository.has_token(session, room_id, viewer_id):
        raise NotFound(NOT_FOUND)
    return room


async def _owned_open_room(
    session: AsyncSession, owner_id: uuid.UUID, room_id: uuid.UUID, now: datetime
) -> CallRoom:
    room = await repository.get_room(session, room_id, for_update=True)
    if room is None or room.owner_id != owner_id:
        raise NotFound(NOT_FOUND)
    if not is_open(room, now):
        raise Gone("This call room is closed or expired.", title="Room closed")
    return room


async def issue_token(
    session: AsyncSession,
    owner_id: uuid.UUID,
    room_id: uuid.UUID,
    user_id: uuid.UUID,
    now: datetime,
) -> TokenOut:
    """Mint a single-use join token for ``user_id`` (the owner included). 404 unless the
    caller owns the room or when the user is unknown, 410 when the room is closed or
    expired, 403 when the owner and the user block one another."""
    room = await _owned_open_room(session, owner_id, room_id, now)
    if user_id != owner_id:
        if not await graph.live_users(session, {user_id}):
            raise NotFound("No such user.", title="Unknown user")
        if await graph.blocked_between(session, owner_id, user_id):
            raise Forbidden("You cannot invite this user.", title="Call not allowed")
    token, digest = new_join_token()
    record = CallToken(
        id=uuid7(),
        room_id=room.id,
        user_id=user_id,
        token_sha256=digest,
        created_at=now,
        expires_at=room.expires_at,
    )
    session.add(record)
    await session.flush()
    await events.token_issued(session, record)
    return TokenOut(room_id=room.id, user_id=user_id, token=token, expires_at=record.expires_at)


async def close_room(
    session: AsyncSession, owner_id: uuid.UUID, room_id: uuid.UUID, now: datetime
) -> CallRoom:
    """Close the room (owner only; 404 otherwise). Closing a closed room changes nothing."""
    room = await repository.get_room(session, room_id, for_update=True)
    if room is None or room.owner_id != owner_id:
        raise NotFound(NOT_FOUND)
    if room.closed_at is not None:
        return room
    expired = room.expires_at <= now
    room.closed_at = room.expires_at if expired else now
    room.close_reason = "expired" if expired else "closed"
    await session.flush()
    await events.room_closed(session, room)
    return room


async def expire_rooms(session: AsyncSession, now: datetime, *, limit: int = 100) -> int:
    """Close open rooms whose time is up (reason ``expired``); how many were closed."""
    rooms = await repository.due_for_expiry(session, now, limit)
    for room in rooms:
        room.closed_at = room.expires_at
        room.close_reason = "expired"
        await session.flush()
        await events.room_closed(session, room)
    return len(rooms)
