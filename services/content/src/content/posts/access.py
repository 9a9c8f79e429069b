"""Loads the facts the visibility rules need about a viewer, for one post or a batch."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from content import policy
from content.communities import repository as communities
from content.graph import repository as graph
from content.posts.state import State, facts


async def relation(
    session: AsyncSession, viewer_id: uuid.UUID | None, post: policy.PostFacts
) -> policy.Relation:
    if viewer_id is None:
        return policy.Relation(viewer_id=None)
    if viewer_id == post.author_id:
        blocked, follows = False, False
    else:
        blocked = await graph.blocked_between(session, viewer_id, post.author_id)
        follows = (
            not blocked
            and post.visibility == "followers"
            and await graph.follows(session, viewer_id, post.author_id)
        )
    member = False
    if post.community_id is not None and not blocked:
        member = await communities.role_of(session, post.community_id, viewer_id) is not None
    return policy.Relation(
        viewer_id=viewer_id, blocked=blocked, follows_author=follows, member=member
    )


async def visible(
    session: AsyncSession, viewer_id: uuid.UUID | None, states: Sequence[State]
) -> list[State]:
    """Those of ``states`` the viewer may see, in the given order (three queries at most)."""
    if not states:
        return []
    all_facts = [facts(s) for s in states]
    blocked: set[uuid.UUID] = set()
    followed: set[uuid.UUID] = set()
    member_of: set[uuid.UUID] = set()
    if viewer_id is not None:
        authors = [f.author_id for f in all_facts if f.author_id != viewer_id]
        blocked = await graph.blocked_among(session, viewer_id, authors)
        followed = await graph.followed_among(
            session, viewer_id, [f.author_id for f in all_facts if f.visibility == "followers"]
        )
        member_of = await communities.member_of(
            session, viewer_id, [f.community_id for f in all_facts if f.community_id]
        )
    out = []
    for state, f in zip(states, all_facts, strict=True):
        rel = policy.Relation(
            viewer_id=viewer_id,
            blocked=f.author_id in blocked,
            follows_author=f.author_id in followed,
            member=f.community_id in member_of if f.community_id else False,
        )
        if policy.can_view_post(f, rel):
            out.append(state)
    return out
