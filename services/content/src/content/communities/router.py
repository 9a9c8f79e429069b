"""Community endpoints: create, read, update, join, leave, members."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.encoders import jsonable_encoder
from kit import idempotency
from kit.auth import CurrentUser, OptionalUser
from kit.db import Session
from kit.errors import NotFound, problem_responses
from kit.idempotency import IdempotencyKeyHeader
from kit.pagination import Pagination
from starlette.responses import JSONResponse

from content.communities import repository, service
from content.communities.schemas import (
    CommunityCreate,
    CommunityOut,
    CommunityPage,
    CommunityUpdate,
    MemberPage,
    MemberRole,
    MembershipOut,
)
from content.runtime import Rt

router = APIRouter(tags=["communities"])


@router.post(
    "/communities",
    status_code=201,
    response_model=CommunityOut,
    responses=problem_responses(400, 401, 409, 422),
)
async def create_community(
    body: CommunityCreate,
    user: CurrentUser,
    session: Session,
    rt: Rt,
    idempotency_key: IdempotencyKeyHeader = None,
) -> JSONResponse:
    """Create a community; the caller becomes its owner.

    With ``Idempotency-Key``, a retry with the same body returns the first answer.
    """

    async def make() -> Any:
        community = await service.create(session, user.user_id, body)
        return jsonable_encoder(service.community_out(community, "owner"))

    return await idempotency.respond_once(
        session,
        key=idempotency_key,
        scope=f"community:{user.user_id}",
        request_body=body.model_dump(mode="json"),
        make=make,
        status_code=201,
        ttl=timedelta(seconds=rt.settings.idempotency_ttl_s),
    )


@router.get("/communities", response_model=CommunityPage, responses=problem_responses(400))
async def list_communities(
    session: Session,
    user: OptionalUser,
    page: Pagination,
    category: Annotated[str | None, Query(max_length=64)] = None,
    tag: Annotated[str | None, Query(max_length=50)] = None,
    mine: bool = False,
) -> CommunityPage:
    """Communities newest first, filtered by category or tag; ``mine=true`` lists the
    caller's own."""
    return await service.list_communities(
        session,
        viewer_id=user.user_id if user else None,
        category=category,
        tag=tag,
        mine=mine and user is not None,
        cursor=page.cursor,
        limit=page.limit,
    )


async def _out(session: Session, community_id: uuid.UUID, user: OptionalUser) -> CommunityOut:
    community = await service.require(session, community_id)
    role = await repository.role_of(session, community_id, user.user_id) if user else None
    return service.community_out(community, role)


@router.get(
    "/communities/{community_id}", response_model=CommunityOut, responses=problem_responses(404)
)
async def get_community(
    community_id: uuid.UUID, session: Session, user: OptionalUser
) -> CommunityOut:
    """A community's settings (a private community's content stays with its members)."""
    return await _out(session, community_id, user)


@router.get(
    "/communities/by-slug/{slug}", response_model=CommunityOut, responses=problem_responses(404)
)
async def get_community_by_slug(slug: str, session: Session, user: OptionalUser) -> CommunityOut:
    community = await repository.get_by_slug(session, slug.casefold())
    if community is None:
        raise NotFound("No such community.")
    return await _out(session, community.id, user)


@router.patch(
    "/communities/{community_id}",
    response_model=CommunityOut,
    responses=problem_responses(401, 403, 404, 422),
)
async def update_community(
    community_id: uuid.UUID, body: CommunityUpdate, user: CurrentUser, session: Session
) -> CommunityOut:
    """Change name, description, visibility, category or tags (owner or moderator)."""
    community = await service.update(session, user.user_id, community_id, body)
    role = await repository.role_of(session, community_id, user.user_id)
    return service.community_out(community, role)


@router.post(
    "/communities/{community_id}/membership",
    response_model=MembershipOut,
    responses=problem_responses(401, 403, 404),
)
async def join_community(
    community_id: uuid.UUID, user: CurrentUser, session: Session
) -> MembershipOut:
    """Join a public community (idempotent)."""
    role = await service.join(session, user.user_id, community_id)
    return MembershipOut(community_id=community_id, user_id=user.user_id, role=role, member=True)


@router.delete(
    "/communities/{community_id}/membership",
    response_model=MembershipOut,
    responses=problem_responses(401, 404, 409),
)
async def leave_community(
    community_id: uuid.UUID, user: CurrentUser, session: Session
) -> MembershipOut:
    """Leave a community (idempotent; the owner cannot leave)."""
    await service.leave(session, user.user_id, community_id)
    return MembershipOut(community_id=community_id, user_id=user.user_id, role=None, member=False)


@router.get(
    "/communities/{community_id}/members",
    response_model=MemberPage,
    responses=problem_responses(400, 403, 404),
)
async def list_members(
    community_id: uuid.UUID, session: Session, user: OptionalUser, page: Pagination
) -> MemberPage:
    """Members, newest first (a private community's only for its members)."""
    return await service.list_members(
        session,
        viewer_id=user.user_id if user else None,
        community_id=community_id,
        cursor=page.cursor,
        limit=page.limit,
    )


@router.put(
    "/communities/{community_id}/members/{user_id}",
    response_model=MembershipOut,
    responses=problem_responses(401, 403, 404, 422),
)
async def set_member(
    community_id: uuid.UUID,
    user_id: uuid.UUID,
    body: MemberRole,
    user: CurrentUser,
    session: Session,
) -> MembershipOut:
    """Add a member or change their role (owner/moderator; moderators: owner only)."""
    role = await service.set_member(session, user.user_id, community_id, user_id, body.role)
    return MembershipOut(community_id=community_id, user_id=user_id, role=role, member=True)


@router.delete(
    "/communities/{community_id}/members/{user_id}",
    response_model=MembershipOut,
    responses=problem_responses(401, 403, 404),
)
async def remove_member(
    community_id: uuid.UUID, user_id: uuid.UUID, user: CurrentUser, session: Session
) -> MembershipOut:
    """Remove a member (owner/moderator)."""
    await service.remove_member(session, user.user_id, community_id, user_id)
    return MembershipOut(community_id=community_id, user_id=user_id, role=None, member=False)
