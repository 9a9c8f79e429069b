"""Timeline endpoints: home, a user's posts, a community's posts."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from kit.auth import CurrentUser, OptionalUser
from kit.db import Session
from kit.errors import problem_responses
from kit.pagination import Pagination

from content.posts.schemas import Kind, PostPage
from content.runtime import Rt
from content.timelines import service

router = APIRouter(tags=["timelines"])


@router.get("/timeline/home", response_model=PostPage, responses=problem_responses(400, 401))
async def home_timeline(
    user: CurrentUser,
    session: Session,
    rt: Rt,
    page: Pagination,
    rank: Annotated[
        Literal["new", "hot"], Query(description="new: newest first; hot: by score")
    ] = "new",
) -> PostPage:
    """Posts of the people you follow, your communities and yourself, minus blocked users."""
    return await service.home(
        session, rt, user.user_id, cursor=page.cursor, limit=page.limit, rank=rank
    )


@router.get(
    "/users/{user_id}/posts", response_model=PostPage, responses=problem_responses(400, 401)
)
async def user_timeline(
    user_id: uuid.UUID,
    user: OptionalUser,
    session: Session,
    rt: Rt,
    page: Pagination,
    kind: Kind | None = None,
) -> PostPage:
    """A user's posts that the caller may see, newest first (``kind=reel`` for reels)."""
    return await service.user_posts(
        session, rt, user.user_id if user else None, user_id,
        cursor=page.cursor, limit=page.limit, kind=kind,
    )  # fmt: skip


@router.get(
    "/communities/{community_id}/posts",
    response_model=PostPage,
    responses=problem_responses(400, 401, 403, 404),
)
async def community_timeline(
    community_id: uuid.UUID,
    user: OptionalUser,
    session: Session,
    rt: Rt,
    page: Pagination,
    kind: Kind | None = None,
) -> PostPage:
    """A community's posts, newest first (a private community's: members only)."""
    return await service.community_posts(
        session, rt, user.user_id if user else None, community_id,
        cursor=page.cursor, limit=page.limit, kind=kind,
    )  # fmt: skip
