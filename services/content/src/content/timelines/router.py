"""Timeline endpoints: home, a user's posts, a community's posts."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from kit.auth import CurrentUser, OptionalUser
from kit.db import Database, Session
from kit.errors import problem_responses
from kit.pagination import Pagination

from content.posts.schemas import Kind, PostPage
from content.runtime import Rt
from content.timelines import fast, service

router = APIRouter(tags=["timelines"])


@router.get("/timeline/home", response_model=PostPage, responses=problem_responses(400, 401))
async def home_timeline(
    request: Request,
    user: CurrentUser,
    rt: Rt,
    page: Pagination,
    rank: Annotated[
        Literal["new", "hot"], Query(description="new: newest first; hot: by score")
    ] = "new",
) -> PostPage:
    """Posts of the people you follow, your communities and yourself, minus blocked users."""
    # No request transaction: the common page is served from Redis plus one raw query;
    # only the general algorithm opens a session.
    db: Database = request.app.state.db
    if rank == "new":
        served = await fast.home_page(
            rt, db, user.user_id, service.decode_home(page.cursor), page.limit
        )
        if served is not None:
            return served
    async with db.session() as session:
        return await service.home(
            session, rt, user.user_id, cursor=page.cursor, limit=page.limit, rank=rank
        )


@router.get(
    "/users/{user_id}/posts", response_model=PostPage, responses=problem_responses(400, 401)
)
async def user_timeline(
    request: Request,
    user_id: uuid.UUID,
    user: OptionalUser,
    rt: Rt,
    page: Pagination,
    kind: Kind | None = None,
) -> PostPage:
    """A user's posts that the caller may see, newest first (``kind=reel`` for reels)."""
    db: Database = request.app.state.db
    viewer_id = user.user_id if user else None
    served = await fast.user_page(
        rt, db, viewer_id, user_id, cursor=page.cursor, limit=page.limit, kind=kind
    )
    if served is not None:
        return served
    async with db.session() as session:
        return await service.user_posts(
            session, rt, viewer_id, user_id, cursor=page.cursor, limit=page.limit, kind=kind
        )


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
