"""Post endpoints: create, read, edit, delete, record a view."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.encoders import jsonable_encoder
from kit import idempotency
from kit.auth import CurrentUser, OptionalUser
from kit.db import Database, Session
from kit.errors import problem_responses
from kit.idempotency import IdempotencyKeyHeader
from starlette.responses import JSONResponse

from content.posts import service
from content.posts.schemas import PostCreate, PostOut, PostUpdate
from content.runtime import AfterCommit, Rt
from content.timelines import fast

router = APIRouter(tags=["posts"])


@router.post(
    "/posts",
    status_code=201,
    response_model=PostOut,
    responses=problem_responses(400, 401, 403, 404, 422),
)
async def create_post(
    body: PostCreate,
    user: CurrentUser,
    session: Session,
    rt: Rt,
    idempotency_key: IdempotencyKeyHeader = None,
) -> JSONResponse:
    """Publish a post or reel; hashtags and @mentions are extracted from its text.

    With ``Idempotency-Key``, a retry with the same body returns the first answer and
    publishes nothing again.
    """

    async def make() -> Any:
        state = await service.create(session, rt, user.user_id, body)
        return jsonable_encoder((await service.outs(session, [state]))[0])

    return await idempotency.respond_once(
        session,
        key=idempotency_key,
        scope=f"post:{user.user_id}",
        request_body=body.model_dump(mode="json"),
        make=make,
        status_code=201,
        ttl=timedelta(seconds=rt.settings.idempotency_ttl_s),
    )


@router.get("/posts/{post_id}", response_model=PostOut, responses=problem_responses(401, 404))
async def read_post(request: Request, post_id: uuid.UUID, user: OptionalUser, rt: Rt) -> PostOut:
    """A post the caller may see (404 otherwise); counts as a view."""
    db: Database = request.app.state.db
    body = await fast.visible_post(rt, db, user.user_id if user else None, post_id)
    await rt.views.record(post_id)
    return body


@router.patch(
    "/posts/{post_id}", response_model=PostOut, responses=problem_responses(401, 403, 404, 422)
)
async def edit_post(
    hooks: AfterCommit,
    post_id: uuid.UUID,
    body: PostUpdate,
    user: CurrentUser,
    session: Session,
    rt: Rt,
) -> PostOut:
    """Edit the text or media of one's own post; ``edited_at`` records when."""
    state = await service.update_post(session, rt, hooks, user.user_id, post_id, body)
    return (await service.outs(session, [state]))[0]


@router.delete("/posts/{post_id}", status_code=204, responses=problem_responses(401, 403, 404))
async def delete_post(
    hooks: AfterCommit, post_id: uuid.UUID, user: CurrentUser, session: Session, rt: Rt
) -> Response:
    """Delete a post (its author, or a moderator of its community)."""
    await service.delete_post(session, rt, hooks, user.user_id, post_id)
    return Response(status_code=204)


@router.post("/posts/{post_id}/views", status_code=202, responses=problem_responses(401, 404))
async def record_view(post_id: uuid.UUID, user: OptionalUser, session: Session, rt: Rt) -> Response:
    """Count one view of a post shown in a feed (buffered; reaches the post in seconds)."""
    await service.visible_state(session, rt, user.user_id if user else None, post_id)
    await rt.views.record(post_id)
    return Response(status_code=202)
