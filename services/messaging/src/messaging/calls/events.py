"""Events the calls feature publishes on ``messaging.call.v1`` (keyed by room)."""

from __future__ import annotations

from kit.outbox import record_event
from sqlalchemy.ext.asyncio import AsyncSession

from messaging.clock import iso
from messaging.models import CallRoom, CallToken

ROOM_CREATED = "messaging.call.room_created"
TOKEN_ISSUED = "messaging.call.token_issued"  # noqa: S105 - an event type
ROOM_CLOSED = "messaging.call.room_closed"


async def room_created(session: AsyncSession, room: CallRoom) -> None:
    await record_event(
        session,
        type=ROOM_CREATED,
        subject=str(room.id),
        data={
            "room_id": str(room.id),
            "owner_id": str(room.owner_id),
            "title": room.title,
            "created_at": iso(room.created_at),
            "expires_at": iso(room.expires_at),
        },
    )


async def token_issued(session: AsyncSession, token: CallToken) -> None:
    """Publishes the token's SHA-256 only; the token itself never leaves the response."""
    await record_event(
        session,
        type=TOKEN_ISSUED,
        subject=str(token.room_id),
        data={
            "room_id": str(token.room_id),
            "user_id": str(token.user_id),
            "token_sha256": token.token_sha256,
            "expires_at": iso(token.expires_at),
        },
    )


async def room_closed(session: AsyncSession, room: CallRoom) -> None:
    assert room.closed_at is not None and room.close_reason is not None
    await record_event(
        session,
        type=ROOM_CLOSED,
        subject=str(room.id),
        data={
            "room_id": str(room.id),
            "closed_at": iso(room.closed_at),
            "reason": room.close_reason,
        },
    )
