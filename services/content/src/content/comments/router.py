"""Comment endpoints: list, create, edit, delete."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from fastapi import APIRouter, Response
from fastapi.encoders import jsonable_encoder
from kit import idempotency
from kit.auth import CurrentUser, OptionalUser
from kit.db import Session
from kit.errors import problem_responses
from kit.idempotency import IdempotencyKeyHeader
from kit.pagination import Pagination
from starlette.responses import JSONResponse

from content.comments import service
from content.comments.schemas import CommentCreate, CommentOut, CommentPage, CommentUpdate
from content.runtime import AfterCommit, Rt

router = APIRouter(tags=["comments"])


@router.get(
    "/posts/{post_id}/comments", response_model=CommentPage, responses=problem_responses(400, 404)
)
async def list_comments(
    post_id: uuid.UUID,
    user: OptionalUser,
    session: Session,
    rt: Rt,
    page: Pagination,
    parent_id: uuid.UUID | None = None,
) -> CommentPage:
    """Top-level comments of a post, or the replies to ``parent_id``, oldest first."""
    return await service.list_comments(
        session, rt, user.user_id if user else None, post_id, parent_id, page.cursor, page.limit
    )


@router.post(
    "/posts/{post_id}/comments",
    status_code=201,
    response_model=CommentOut,
    responses=problem_responses(400, 401, 403, 404, 422),
)
async def create_comment(
    hooks: AfterCommit,
    post_id: uuid.UUID,
    body: CommentCreate,
    user: CurrentUser,
    session: Session,
    rt: Rt,
    idempotency_key: IdempotencyKeyHeader = None,
) -> JSONResponse:
    """Comment on a post, or reply to one of its comments with ``parent_id``.

    With ``Idempotency-Key``, a retry with the same body returns the first answer.
    """

    async def make() -> Any:
        comment = await service.create(session, rt, hooks, user.user_id, post_id, body)
        return jsonable_encoder(service.comment_out(comment))

    return await idempotency.respond_once(
        session,
        key=idempotency_key,
        scope=f"comment:{user.user_id}:{post_id}",
        request_body=body.model_dump(mode="json"),
        make=make,
        status_code=201,
        ttl=timedelta(seconds=rt.settings.idempotency_ttl_s),
    )


@router.patch(
    "/comments/{comment_id}",
    response_model=CommentOut,
    responses=problem_responses(401, 403, 404, 422),
)
async def edit_comment(
    comment_id: uuid.UUID, body: CommentUpdate, user: CurrentUser, session: Session, rt: Rt
) -> CommentOut:
    """Edit one's own comment."""
    comment = await service.update(session, rt, user.user_id, comment_id, body)
    return service.comment_out(comment)


@router.delete(
    "/comments/{comment_id}", status_code=204, responses=problem_responses(401, 403, 404)
)
async def delete_comment(
    hooks: AfterCommit, comment_id: uuid.UUID, user: CurrentUser, session: Session, rt: Rt
) -> Response:
    """Delete a comment (its author, the post's author or a community moderator)."""
    await service.delete(session, rt, hooks, user.user_id, comment_id)
    return Response(status_code=204)
