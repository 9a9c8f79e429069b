"""Message endpoints under a conversation: send, history, edit, delete, mark read."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Header, Response, status
from fastapi.responses import JSONResponse
from kit.auth import CurrentUser
from kit.db import Session
from kit.errors import problem_responses
from kit.pagination import Pagination

from messaging.clock import utcnow
from messaging.messages import service
from messaging.messages.schemas import EditIn, MessageOut, MessagePage, ReadIn, ReadOut, SendIn
from messaging.runtime import Rt

router = APIRouter(prefix="/conversations/{conversation_id}", tags=["messages"])


@router.post(
    "/messages",
    response_model=MessageOut,
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(400, 401, 403, 404, 410, 422),
)
async def send_message(
    conversation_id: uuid.UUID,
    body: SendIn,
    principal: CurrentUser,
    session: Session,
    runtime: Rt,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
) -> MessageOut | JSONResponse:
    """Send a message (text and/or attachments by reference, optionally a reply).

    With ``Idempotency-Key``, a retry of the same request returns the first message
    (``Idempotent-Replayed: true``) instead of sending it twice."""
    result = await service.send(
        session,
        runtime.settings,
        sender_id=principal.user_id,
        conversation_id=conversation_id,
        body=body,
        idempotency_key=idempotency_key,
        now=utcnow(),
    )
    out = result.message
    if result.replayed:
        return JSONResponse(
            out.model_dump(mode="json"),
            status_code=status.HTTP_201_CREATED,
            headers={"Idempotent-Replayed": "true"},
        )
    return out


@router.get("/messages", response_model=MessagePage, responses=problem_responses(400, 401, 404))
async def history(
    conversation_id: uuid.UUID, principal: CurrentUser, session: Session, page: Pagination
) -> MessagePage:
    """The conversation's messages, newest first (``?cursor=&limit=`` goes back in time)."""
    return await service.history(
        session, principal.user_id, conversation_id, cursor=page.cursor, limit=page.limit
    )


@router.patch(
    "/messages/{message_id}",
    response_model=MessageOut,
    responses=problem_responses(401, 403, 404, 410, 422),
)
async def edit_message(
    conversation_id: uuid.UUID,
    message_id: uuid.UUID,
    body: EditIn,
    principal: CurrentUser,
    session: Session,
    runtime: Rt,
) -> MessageOut:
    """Edit the text of your own message."""
    message = await service.edit(
        session, runtime.settings, principal.user_id, conversation_id, message_id, body, utcnow()
    )
    return service.to_out(message)


@router.delete(
    "/messages/{message_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(401, 403, 404),
)
async def delete_message(
    conversation_id: uuid.UUID, message_id: uuid.UUID, principal: CurrentUser, session: Session
) -> Response:
    """Delete your own message for everyone (idempotent)."""
    await service.delete_for_everyone(
        session, principal.user_id, conversation_id, message_id, utcnow()
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/read", response_model=ReadOut, responses=problem_responses(401, 404, 422))
async def mark_read(
    conversation_id: uuid.UUID, body: ReadIn, principal: CurrentUser, session: Session
) -> ReadOut:
    """Mark the conversation read up to a message (a read receipt for the others)."""
    return await service.mark_read(
        session, principal.user_id, conversation_id, body.message_id, utcnow()
    )
