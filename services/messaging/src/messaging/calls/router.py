"""Call endpoints: rooms and their join tokens. The signaling runs over the realtime
service, which learns each token's hash from ``messaging.call.token_issued``."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, status
from kit.auth import CurrentUser
from kit.db import Session
from kit.errors import problem_responses

from messaging.calls import service
from messaging.calls.schemas import RoomIn, RoomOut, TokenIn, TokenOut
from messaging.clock import utcnow
from messaging.runtime import Rt

router = APIRouter(prefix="/calls/rooms", tags=["calls"])


@router.post(
    "",
    response_model=RoomOut,
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(401, 422),
)
async def create_room(
    body: RoomIn, principal: CurrentUser, session: Session, runtime: Rt
) -> RoomOut:
    """Create a call room; you own it. It expires after ``ttl_s`` (default one hour)."""
    now = utcnow()
    room = await service.create_room(session, runtime.settings, principal.user_id, body, now)
    return service.to_out(room, now)


@router.get("/{room_id}", response_model=RoomOut, responses=problem_responses(401, 404))
async def get_room(room_id: uuid.UUID, principal: CurrentUser, session: Session) -> RoomOut:
    """A room, for its owner and the users invited to it."""
    room = await service.get_room(session, principal.user_id, room_id)
    return service.to_out(room, utcnow())


@router.post(
    "/{room_id}/tokens",
    response_model=TokenOut,
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(401, 403, 404, 410, 422),
)
async def issue_token(
    room_id: uuid.UUID, body: TokenIn, principal: CurrentUser, session: Session
) -> TokenOut:
    """Mint a single-use join token for a user (owner only). The token is shown once."""
    return await service.issue_token(session, principal.user_id, room_id, body.user_id, utcnow())


@router.delete("/{room_id}", response_model=RoomOut, responses=problem_responses(401, 404))
async def close_room(room_id: uuid.UUID, principal: CurrentUser, session: Session) -> RoomOut:
    """Close the room (owner only; idempotent)."""
    now = utcnow()
    room = await service.close_room(session, principal.user_id, room_id, now)
    return service.to_out(room, now)
