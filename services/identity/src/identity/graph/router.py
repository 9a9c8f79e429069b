"""Graph endpoints: follow, unfollow, block, unblock, follower/following lists."""

from __future__ import annotations

import uuid

from fastapi import APIRouter
from kit.db import Session
from kit.errors import problem_responses
from kit.pagination import Pagination

from identity.auth.deps import CurrentUser
from identity.graph import service
from identity.graph.schemas import BlockOut, FollowOut, GraphPage

router = APIRouter(tags=["graph"])


@router.post(
    "/users/{user_id}/follow",
    response_model=FollowOut,
    responses=problem_responses(401, 403, 404, 422),
)
async def follow(user_id: uuid.UUID, principal: CurrentUser, session: Session) -> FollowOut:
    """Follow a user. Idempotent: following again answers the same and publishes nothing."""
    await service.follow(session, principal.user_id, user_id)
    return FollowOut(follower_id=principal.user_id, followee_id=user_id, following=True)


@router.delete(
    "/users/{user_id}/follow", response_model=FollowOut, responses=problem_responses(401, 422)
)
async def unfollow(user_id: uuid.UUID, principal: CurrentUser, session: Session) -> FollowOut:
    """Stop following a user (idempotent)."""
    await service.unfollow(session, principal.user_id, user_id)
    return FollowOut(follower_id=principal.user_id, followee_id=user_id, following=False)


@router.post(
    "/users/{user_id}/block", response_model=BlockOut, responses=problem_responses(401, 404, 422)
)
async def block(user_id: uuid.UUID, principal: CurrentUser, session: Session) -> BlockOut:
    """Block a user: follows both ways end, and they cannot follow you (idempotent)."""
    await service.block(session, principal.user_id, user_id)
    return BlockOut(blocker_id=principal.user_id, blocked_id=user_id, blocking=True)


@router.delete(
    "/users/{user_id}/block", response_model=BlockOut, responses=problem_responses(401, 422)
)
async def unblock(user_id: uuid.UUID, principal: CurrentUser, session: Session) -> BlockOut:
    """Lift a block (idempotent)."""
    await service.unblock(session, principal.user_id, user_id)
    return BlockOut(blocker_id=principal.user_id, blocked_id=user_id, blocking=False)


@router.get(
    "/users/{user_id}/followers", response_model=GraphPage, responses=problem_responses(400, 404)
)
async def followers(user_id: uuid.UUID, page: Pagination, session: Session) -> GraphPage:
    """Who follows the user, newest first (``?cursor=&limit=``)."""
    return await service.list_edges(
        session, user_id=user_id, direction="followers", cursor=page.cursor, limit=page.limit
    )


@router.get(
    "/users/{user_id}/following", response_model=GraphPage, responses=problem_responses(400, 404)
)
async def following(user_id: uuid.UUID, page: Pagination, session: Session) -> GraphPage:
    """Whom the user follows, newest first (``?cursor=&limit=``)."""
    return await service.list_edges(
        session, user_id=user_id, direction="following", cursor=page.cursor, limit=page.limit
    )
