"""Keeping identity's own tables bounded (run by the outbox relay's housekeeping).

* ``sessions`` (and, by cascade, their ``refresh_tokens``): a session that expired or was
  revoked more than ``session_retention_s`` ago can never be used or reported again.
  Spent refresh tokens of a live session stay: reuse detection needs them.
* ``signing_keys``: a retired key whose ``retire_at`` passed more than that long ago
  verifies no token any more.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from kit.db import Database
from kit.housekeeping import delete_in_batches
from sqlalchemy import text

from identity.settings import IdentitySettings

_SESSIONS = text(
    "DELETE FROM sessions WHERE id IN (SELECT id FROM sessions"
    " WHERE expires_at < :before OR revoked_at < :before LIMIT :batch)"
)
_KEYS = text("DELETE FROM signing_keys WHERE NOT active AND retire_at < :before")


def auth_state_pruner(settings: IdentitySettings) -> Callable[[Database], Awaitable[int]]:
    """``prune(db)`` for :class:`kit.outbox.OutboxRelay`'s ``housekeeping``."""

    async def prune(db: Database, now: datetime | None = None) -> int:
        before = (now or datetime.now(UTC)) - timedelta(seconds=settings.session_retention_s)
        batch = settings.housekeeping_batch_size
        deleted = await delete_in_batches(db, _SESSIONS, batch, before=before)
        async with db.session() as session:
            result = await session.execute(_KEYS, {"before": before})
            deleted += int(getattr(result, "rowcount", 0) or 0)
        return deleted

    return prune
