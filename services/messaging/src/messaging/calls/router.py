"""Call endpoints: rooms and their join tokens. The signaling runs over the realtime
service, which learns each token's hash from ``messaging.call.token_issued``."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from fastapi import APIRouter, status
from fastapi.encoders import jsonable_encoder
from kit import idempotency
from kit.auth import CurrentUser
from kit.db import Session
from kit.errors import problem_responses
from kit.idempotency import IdempotencyKeyHeader
from starlette.responses import JSONResponse

from messaging.calls import service
from messaging.calls.schemas import RoomIn, RoomOut, TokenIn, TokenOut
from messaging.clock import utcnow
from messaging.runtime import Rt

router = APIRouter(prefix="/calls/rooms", tags=["calls"])


@router.post(
    "",
    response_model=RoomOut,
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(400, 401, 422),
)
async def create_room(
    body: RoomIn,
    principal: CurrentUser,
    session: Session,
    runtime: Rt,
    idempotency_key: IdempotencyKeyHeader = None,
) -> JSONResponse:
    """Create a call room; you own it. It expires after ``ttl_s`` (default one hour).

    With ``Idempotency-Key``, a retry with the same body returns the first room. (Minting
    a join token takes no key: a token is shown once and never stored in the clear.)
    """

    async def make() -> Any:
        now = utcnow()
        room = await service.create_room(session, runtime.settings, principal.user_id, body, now)
        return jsonable_encoder(service.to_out(room, now))

    return await idempotency.respond_once(
        session,
        key=idempotency_key,
        scope=f"call-room:{principal.user_id}",
        request_body=body.model_dump(mode="json"),
        make=make,
        status_code=status.HTTP_201_CREATED,
        ttl=timedelta(seconds=runtime.settings.idempotency_ttl_s),
    )


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
