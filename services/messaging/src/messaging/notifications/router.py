"""Notification endpoints: the inbox, unread count, mark read, preferences."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from kit.auth import CurrentUser
from kit.db import Session
from kit.errors import ProblemError, problem_response, problem_responses
from kit.pagination import Pagination

from messaging.clock import utcnow
from messaging.notifications import service
from messaging.notifications.schemas import (
    ConfirmEmailIn,
    MarkedRead,
    NotificationOut,
    NotificationPage,
    PreferencesIn,
    PreferencesOut,
    UnreadCount,
)
from messaging.runtime import Rt

router = APIRouter(prefix="/notifications", tags=["notifications"])


@router.get("", response_model=NotificationPage, responses=problem_responses(400, 401))
async def list_notifications(
    principal: CurrentUser,
    session: Session,
    page: Pagination,
    unread: Annotated[bool, Query(description="only unread ones")] = False,
) -> NotificationPage:
    """The caller's notifications, most recently updated first (``?cursor=&limit=``)."""
    return await service.list_page(
        session, principal.user_id, cursor=page.cursor, limit=page.limit, unread_only=unread
    )


@router.get("/unread-count", response_model=UnreadCount, responses=problem_responses(401))
async def unread_count(principal: CurrentUser, session: Session) -> UnreadCount:
    return UnreadCount(unread=await service.unread_count(session, principal.user_id))


@router.post(
    "/{notification_id}/read",
    response_model=NotificationOut,
    responses=problem_responses(401, 404, 422),
)
async def mark_read(
    notification_id: uuid.UUID, principal: CurrentUser, session: Session
) -> NotificationOut:
    """Mark one notification read (idempotent)."""
    notification = await service.mark_one_read(
        session, principal.user_id, notification_id, utcnow()
    )
    return service.to_out(notification)


@router.post("/read-all", response_model=MarkedRead, responses=problem_responses(401))
async def mark_all_read(principal: CurrentUser, session: Session) -> MarkedRead:
    """Mark every notification read; how many were unread."""
    return MarkedRead(marked=await service.mark_all_read(session, principal.user_id, utcnow()))


@router.get("/preferences", response_model=PreferencesOut, responses=problem_responses(401))
async def get_preferences(principal: CurrentUser, session: Session) -> PreferencesOut:
    """The channel of every notification type, and the digest address."""
    return await service.get_preferences(session, principal.user_id)


@router.put("/preferences", response_model=PreferencesOut, responses=problem_responses(401, 422))
async def put_preferences(
    body: PreferencesIn, principal: CurrentUser, session: Session, runtime: Rt
) -> PreferencesOut:
    """Change channels per type (``in_app``, ``email``, ``off``) and the digest address.

    A new address waits in ``pending_email`` until confirmed with the code mailed to it.
    """
    return await service.update_preferences(
        session, runtime.settings, principal.user_id, body, utcnow()
    )


@router.post(
    "/preferences/email/confirm",
    response_model=PreferencesOut,
    responses=problem_responses(401, 409, 422),
)
async def confirm_email(
    body: ConfirmEmailIn, principal: CurrentUser, session: Session, runtime: Rt, request: Request
) -> PreferencesOut | Response:
    """Confirm the pending digest address with the code mailed to it."""
    result = await service.confirm_email(
        session, runtime.settings, principal.user_id, body.code, utcnow()
    )
    if isinstance(result, ProblemError):
        return problem_response(
            result.status,
            title=result.title,
            detail=result.detail,
            instance=request.url.path,
            **result.extra,
        )
    return result
