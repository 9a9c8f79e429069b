"""Reaction endpoints: ``PUT`` adds, ``DELETE`` removes; both idempotent."""

from __future__ import annotations

import uuid

from fastapi import APIRouter
from kit.auth import CurrentUser
from kit.db import Session
from kit.errors import problem_responses

from content.reactions import service
from content.reactions.schemas import ReactionKind, ReactionOut
from content.runtime import AfterCommit, Rt

router = APIRouter(tags=["reactions"])

_responses = problem_responses(401, 403, 404, 422)


@router.put("/posts/{post_id}/reactions/{kind}", response_model=ReactionOut, responses=_responses)
async def react_to_post(
    hooks: AfterCommit,
    post_id: uuid.UUID,
    kind: ReactionKind,
    user: CurrentUser,
    session: Session,
    rt: Rt,
) -> ReactionOut:
    """Add a reaction of ``kind`` (like, love, laugh, wow, sad, angry) to a post."""
    return await service.react(
        session, rt, hooks, actor_id=user.user_id, target_type="post", target_id=post_id,
        kind=kind.value, add=True,
    )  # fmt: skip


@router.delete(
    "/posts/{post_id}/reactions/{kind}", response_model=ReactionOut, responses=_responses
)
async def unreact_to_post(
    hooks: AfterCommit,
    post_id: uuid.UUID,
    kind: ReactionKind,
    user: CurrentUser,
    session: Session,
    rt: Rt,
) -> ReactionOut:
    """Remove one's reaction of ``kind`` from a post."""
    return await service.react(
        session, rt, hooks, actor_id=user.user_id, target_type="post", target_id=post_id,
        kind=kind.value, add=False,
    )  # fmt: skip


@router.put(
    "/comments/{comment_id}/reactions/{kind}", response_model=ReactionOut, responses=_responses
)
async def react_to_comment(
    hooks: AfterCommit,
    comment_id: uuid.UUID,
    kind: ReactionKind,
    user: CurrentUser,
    session: Session,
    rt: Rt,
) -> ReactionOut:
    """Add a reaction of ``kind`` to a comment."""
    return await service.react(
        session, rt, hooks, actor_id=user.user_id, target_type="comment", target_id=comment_id,
        kind=kind.value, add=True,
    )  # fmt: skip


@router.delete(
    "/comments/{comment_id}/reactions/{kind}", response_model=ReactionOut, responses=_responses
)
async def unreact_to_comment(
    hooks: AfterCommit,
    comment_id: uuid.UUID,
    kind: ReactionKind,
    user: CurrentUser,
    session: Session,
    rt: Rt,
) -> ReactionOut:
    """Remove one's reaction of ``kind`` from a comment."""
    return await service.react(
        session, rt, hooks, actor_id=user.user_id, target_type="comment", target_id=comment_id,
        kind=kind.value, add=False,
    )  # fmt: skip
