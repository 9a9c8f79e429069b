"""Communities and memberships.

Rules: the creator is the owner; owners and moderators change settings and add or
remove members; only the owner appoints moderators; anyone may join a public
community, while a private one's members are added by its owner or moderators; the
owner cannot leave (the community would have nobody to run it). Every change records
its event in the caller's transaction; repeating a change already in effect records
nothing.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from kit.errors import Conflict, Forbidden, NotFound, UnprocessableEntity
from kit.ids import uuid7
from sqlalchemy.ext.asyncio import AsyncSession

from content import policy
from content.communities import events, repository
from content.communities.schemas import (
    CommunityCreate,
    CommunityOut,
    CommunityPage,
    CommunityUpdate,
    MemberOut,
    MemberPage,
)
from content.cursors import decode_position, encode_position
from content.models import Community


def community_out(c: Community, my_role: str | None = None) -> CommunityOut:
    return CommunityOut(
        id=c.id,
        slug=c.slug,
        name=c.name,
        description=c.description,
        visibility=c.visibility,
        category=c.category,
        tags=list(c.tags),
        owner_id=c.owner_id,
        member_count=c.member_count,
        created_at=c.created_at,
        updated_at=c.updated_at,
        my_role=my_role,
    )


async def require(
    session: AsyncSession, community_id: uuid.UUID, *, for_update: bool = False
) -> Community:
    community = await repository.get(session, community_id, for_update=for_update)
    if community is None:
        raise NotFound("No such community.")
    return community


async def create(
    session: AsyncSession, owner_id: uuid.UUID, body: CommunityCreate, now: datetime | None = None
) -> Community:
    """Create a community owned by ``owner_id``; 409 when the slug is taken."""
    now = now or datetime.now(UTC)
    if await repository.slug_taken(session, body.slug):
        raise Conflict("A community with this slug exists already.", title="Slug taken")
    community = Community(
        id=uuid7(),
        slug=body.slug,
        name=body.name,
        description=body.description,
        visibility=body.visibility,
        category=body.category,
        tags=body.tags,
        owner_id=owner_id,
        member_count=0,
        created_at=now,
        updated_at=now,
    )
    await repository.add(session, community)
    await repository.upsert_member(session, community.id, owner_id, "owner", now)
    await session.refresh(community)
    await events.community_changed(session, community, created=True)
    await events.membership_changed(
        session,
        community_id=community.id,
        user_id=owner_id,
        role="owner",
        visibility=community.visibility,
        at=now,
        joined=True,
    )
    return community


async def update(
    session: AsyncSession,
    actor_id: uuid.UUID,
    community_id: uuid.UUID,
    body: CommunityUpdate,
    now: datetime | None = None,
) -> Community:
    """Change settings (owner or moderator; 403 otherwise). Unchanged: no event."""
    now = now or datetime.now(UTC)
    community = await require(session, community_id, for_update=True)
    role = await repository.role_of(session, community_id, actor_id)
    if not policy.can_manage_community(role):
        raise Forbidden("Only the owner or a moderator can change this community.")
    changes = body.model_dump(exclude_unset=True)
    for field in ("name", "visibility"):
        if field in changes and changes[field] is None:
            raise UnprocessableEntity(f"{field} cannot be null.")
    changed = False
    for field, value in changes.items():
        if field == "description" and value is None:
            value = ""
        if field == "tags" and value is None:
            value = []
        if getattr(community, field) != value:
            setattr(community, field, value)
            changed = True
    if changed:
        community.updated_at = now
        await session.flush()
        await events.community_changed(session, community, created=False)
    return community


async def join(
    session: AsyncSession, user_id: uuid.UUID, community_id: uuid.UUID, now: datetime | None = None
) -> str:
    """Join a public community as a member (idempotent); 403 for a private one."""
    now = now or datetime.now(UTC)
    community = await require(session, community_id, for_update=True)
    role = await repository.role_of(session, community_id, user_id)
    if role is not None:
        return role
    if community.visibility != "public":
        raise Forbidden(
            "This community is private: its owner or a moderator adds members.",
            title="Private community",
        )
    await repository.upsert_member(session, community_id, user_id, "member", now)
    await events.membership_changed(
        session,
        community_id=community_id,
        user_id=user_id,
        role="member",
        visibility=community.visibility,
        at=now,
        joined=True,
    )
    return "member"


async def leave(
    session: AsyncSession, user_id: uuid.UUID, community_id: uuid.UUID, now: datetime | None = None
) -> None:
    """Leave (idempotent); 409 for the owner."""
    now = now or datetime.now(UTC)
    community = await require(session, community_id, for_update=True)
    role = await repository.role_of(session, community_id, user_id)
    if role is None:
        return
    if role == "owner":
        raise Conflict("The owner cannot leave the community.", title="Owner cannot leave")
    await _drop_member(session, community, user_id, role, now)


async def _drop_member(
    session: AsyncSession, community: Community, user_id: uuid.UUID, role: str, now: datetime
) -> None:
    """Remove the membership and record ``content.community.member_left``."""
    await repository.remove_member(session, community.id, user_id)
    await events.membership_changed(
        session,
        community_id=community.id,
        user_id=user_id,
        role=role,
        visibility=community.visibility,
        at=now,
        joined=False,
    )


async def set_member(
    session: AsyncSession,
    actor_id: uuid.UUID,
    community_id: uuid.UUID,
    user_id: uuid.UUID,
    role: str,
    now: datetime | None = None,
) -> str:
    """Add a member or change a member's role.

    Owners and moderators add members; only the owner makes or unmakes moderators;
    the owner's own role cannot be changed here (422).
    """
    now = now or datetime.now(UTC)
    community = await require(session, community_id, for_update=True)
    actor_role = await repository.role_of(session, community_id, actor_id)
    if not policy.can_manage_community(actor_role):
        raise Forbidden("Only the owner or a moderator can manage members.")
    current = await repository.role_of(session, community_id, user_id)
    if current == "owner":
        raise UnprocessableEntity("The owner's role cannot be changed.")
    if actor_role != "owner" and ("moderator" in (role, current)):
        raise Forbidden("Only the owner appoints or removes moderators.")
    added, changed = await repository.upsert_member(session, community_id, user_id, role, now)
    if added or changed:
        await events.membership_changed(
            session,
            community_id=community_id,
            user_id=user_id,
            role=role,
            visibility=community.visibility,
            at=now,
            joined=True,
        )
    return role


async def remove_member(
    session: AsyncSession,
    actor_id: uuid.UUID,
    community_id: uuid.UUID,
    user_id: uuid.UUID,
    now: datetime | None = None,
) -> None:
    """Remove someone (owner or moderator; moderators only remove plain members)."""
    now = now or datetime.now(UTC)
    if actor_id == user_id:
        await leave(session, user_id, community_id, now)
        return
    community = await require(session, community_id, for_update=True)
    actor_role = await repository.role_of(session, community_id, actor_id)
    if not policy.can_manage_community(actor_role):
        raise Forbidden("Only the owner or a moderator can remove members.")
    current = await repository.role_of(session, community_id, user_id)
    if current is None:
        return
    if current == "owner" or (current == "moderator" and actor_role != "owner"):
        raise Forbidden("You cannot remove this member.")
    await _drop_member(session, community, user_id, current, now)


async def list_communities(
    session: AsyncSession,
    *,
    viewer_id: uuid.UUID | None,
    category: str | None,
    tag: str | None,
    mine: bool,
    cursor: str | None,
    limit: int,
) -> CommunityPage:
    """Communities newest first; ``mine`` lists the viewer's own memberships."""
    before = decode_position("communities", cursor)
    rows = await repository.list_page(
        session,
        category=category,
        tag=None if tag is None else tag.casefold(),
        member_id=viewer_id if mine else None,
        before=before,
        limit=limit + 1,
    )
    page, more = rows[:limit], len(rows) > limit
    roles: dict[uuid.UUID, str] = {}
    if viewer_id is not None:
        for c in page:
            role = await repository.role_of(session, c.id, viewer_id)
            if role is not None:
                roles[c.id] = role
    return CommunityPage(
        items=[community_out(c, roles.get(c.id)) for c in page],
        next_cursor=encode_position("communities", page[-1].created_at, page[-1].id)
        if more and page
        else None,
    )


async def list_members(
    session: AsyncSession,
    *,
    viewer_id: uuid.UUID | None,
    community_id: uuid.UUID,
    cursor: str | None,
    limit: int,
) -> MemberPage:
    """Members newest first; a private community's list is for its members (403)."""
    community = await require(session, community_id)
    member = (
        viewer_id is not None
        and await repository.role_of(session, community_id, viewer_id) is not None
    )
    if not policy.can_view_community_content(community.visibility, member=member):
        raise Forbidden("Only members see who is in a private community.", title="Members only")
    before = decode_position("members", cursor)
    rows = await repository.members_page(session, community_id, before=before, limit=limit + 1)
    page, more = rows[:limit], len(rows) > limit
    return MemberPage(
        items=[MemberOut(user_id=m.user_id, role=m.role, joined_at=m.joined_at) for m in page],
        next_cursor=encode_position("members", page[-1].joined_at, page[-1].user_id)
        if more and page
        else None,
    )
