"""Conversation endpoints: direct conversations, groups, membership, mute, unread counts."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from fastapi import APIRouter, Request, Response, status
from fastapi.encoders import jsonable_encoder
from kit import idempotency
from kit.auth import CurrentUser
from kit.db import Session
from kit.errors import problem_responses
from kit.idempotency import IdempotencyKeyHeader
from kit.pagination import Pagination
from starlette.responses import JSONResponse

from messaging.clock import utcnow
from messaging.conversations import service
from messaging.conversations.schemas import (
    ConversationOut,
    ConversationPage,
    DirectIn,
    GroupIn,
    MembersIn,
    MuteIn,
    TitleIn,
    UnreadTotals,
)
from messaging.settings import MessagingSettings

router = APIRouter(prefix="/conversations", tags=["conversations"])


def _settings(request: Request) -> MessagingSettings:
    settings: MessagingSettings = request.app.state.settings
    return settings


@router.post(
    "/direct",
    response_model=ConversationOut,
    status_code=status.HTTP_201_CREATED,
    responses={
        **problem_responses(401, 403, 404, 422),
        200: {"description": "The pair's existing conversation"},
    },
)
async def open_direct(
    body: DirectIn, principal: CurrentUser, session: Session, response: Response
) -> ConversationOut:
    """Open the direct conversation with a user: 201 when created, 200 when it existed."""
    conversation, created = await service.open_direct(
        session, principal.user_id, body.user_id, utcnow()
    )
    if not created:
        response.status_code = status.HTTP_200_OK
    return conversation


@router.post(
    "/groups",
    response_model=ConversationOut,
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(400, 401, 403, 404, 422),
)
async def create_group(
    body: GroupIn,
    principal: CurrentUser,
    session: Session,
    request: Request,
    idempotency_key: IdempotencyKeyHeader = None,
) -> JSONResponse:
    """Create a group with a title and members; the caller is its admin.

    With ``Idempotency-Key``, a retry with the same body returns the first answer.
    """
    settings = _settings(request)

    async def make() -> Any:
        group = await service.create_group(
            session, settings, principal.user_id, body.title, body.member_ids, utcnow()
        )
        return jsonable_encoder(group)

    return await idempotency.respond_once(
        session,
        key=idempotency_key,
        scope=f"group:{principal.user_id}",
        request_body=body.model_dump(mode="json"),
        make=make,
        status_code=status.HTTP_201_CREATED,
        ttl=timedelta(seconds=settings.idempotency_ttl_s),
    )


@router.get("", response_model=ConversationPage, responses=problem_responses(400, 401))
async def list_conversations(
    principal: CurrentUser, session: Session, page: Pagination
) -> ConversationPage:
    """The caller's conversations, latest activity first, with unread counts."""
    return await service.list_page(session, principal.user_id, cursor=page.cursor, limit=page.limit)


@router.get("/unread-count", response_model=UnreadTotals, responses=problem_responses(401))
async def unread_count(principal: CurrentUser, session: Session) -> UnreadTotals:
    """How many conversations have unread messages, and how many messages are unread."""
    return await service.unread_totals(session, principal.user_id)


@router.get(
    "/{conversation_id}", response_model=ConversationOut, responses=problem_responses(401, 404)
)
async def get_conversation(
    conversation_id: uuid.UUID, principal: CurrentUser, session: Session
) -> ConversationOut:
    """A conversation with its participants and their read receipts (participants only)."""
    return await service.get(session, principal.user_id, conversation_id)


@router.patch(
    "/{conversation_id}",
    response_model=ConversationOut,
    responses=problem_responses(401, 403, 404, 422),
)
async def rename(
    conversation_id: uuid.UUID, body: TitleIn, principal: CurrentUser, session: Session
) -> ConversationOut:
    """Rename a group (admins only)."""
    return await service.rename(session, principal.user_id, conversation_id, body.title, utcnow())


@router.post(
    "/{conversation_id}/members",
    response_model=ConversationOut,
    responses=problem_responses(401, 403, 404, 422),
)
async def add_members(
    conversation_id: uuid.UUID,
    body: MembersIn,
    principal: CurrentUser,
    session: Session,
    request: Request,
) -> ConversationOut:
    """Add members to a group (admins only)."""
    return await service.add_members(
        session, _settings(request), principal.user_id, conversation_id, body.user_ids, utcnow()
    )


@router.delete(
    "/{conversation_id}/members/{user_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(401, 403, 404, 422),
)
async def remove_member(
    conversation_id: uuid.UUID, user_id: uuid.UUID, principal: CurrentUser, session: Session
) -> Response:
    """Remove a member (admins only); removing yourself leaves the group."""
    await service.remove_member(session, principal.user_id, conversation_id, user_id, utcnow())
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/{conversation_id}/admins/{user_id}",
    response_model=ConversationOut,
    responses=problem_responses(401, 403, 404, 422),
)
async def make_admin(
    conversation_id: uuid.UUID, user_id: uuid.UUID, principal: CurrentUser, session: Session
) -> ConversationOut:
    """Make a member an admin (admins only)."""
    return await service.make_admin(session, principal.user_id, conversation_id, user_id, utcnow())


@router.post(
    "/{conversation_id}/leave",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(401, 404, 422),
)
async def leave(conversation_id: uuid.UUID, principal: CurrentUser, session: Session) -> Response:
    """Leave a group."""
    await service.leave(session, principal.user_id, conversation_id, utcnow())
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.put(
    "/{conversation_id}/mute",
    response_model=ConversationOut,
    responses=problem_responses(401, 404, 422),
)
async def mute(
    conversation_id: uuid.UUID, body: MuteIn, principal: CurrentUser, session: Session
) -> ConversationOut:
    """Mute or unmute message notifications of this conversation for yourself."""
    return await service.set_muted(session, principal.user_id, conversation_id, body.muted)
