"""Read-model queries the search API needs: who the viewer follows, where they are a
member, and who is on either side of a block with them."""

from __future__ import annotations

import uuid

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from search.query.filters import Viewer


async def load_viewer(session: AsyncSession, user_id: uuid.UUID | None) -> Viewer:
    """The :class:`Viewer` for ``user_id`` (anonymous for None), in one round trip."""
    if user_id is None:
        return Viewer()
    rows = await session.execute(
        text(
            "SELECT 'f', followee_id FROM follows WHERE follower_id = :u AND active "
            "UNION ALL SELECT 'm', community_id FROM memberships WHERE user_id = :u AND active "
            "UNION ALL SELECT 'b', blocked_id FROM blocks WHERE blocker_id = :u AND active "
            "UNION ALL SELECT 'b', blocker_id FROM blocks WHERE blocked_id = :u AND active"
        ),
        {"u": user_id},
    )
    sets: dict[str, set[str]] = {"f": set(), "m": set(), "b": set()}
    for tag, value in rows:
        sets[tag].add(str(value))
    return Viewer(
        user_id=str(user_id),
        followees=frozenset(sets["f"]),
        communities=frozenset(sets["m"]),
        blocked=frozenset(sets["b"]),
    )
