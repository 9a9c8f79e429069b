"""Keeping the kit's own tables from growing without end.

* ``outbox``: a published row has done its job; it is kept ``outbox_retention_s`` (for
  inspection and the backlog metrics) and then deleted. Pending and failed rows are
  never touched.
* ``inbox``: a row only has to outlive every possible redelivery of its event, i.e.
  the topics' retention (plus DLQ replays). ``inbox_retention_s`` must therefore be
  longer than the longest retention of a consumed topic; the default (14 days) is
  twice Kafka's default of 7.
* ``idempotency_keys``: expired answers (where the service has the table).

Deletes run in bounded batches (``housekeeping_batch_size`` rows per statement, each
its own transaction), so they never hold long locks or build large transactions.
Replicas may prune at the same time: a row deleted twice is deleted once.
:class:`~kit.outbox.OutboxRelay` prunes the outbox and idempotency keys,
:class:`~kit.consumer.EventConsumer` its own group's inbox rows, every
``housekeeping_interval_s``.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime, timedelta

from sqlalchemy import TextClause, text

from kit.db import Database

log = logging.getLogger("kit.housekeeping")

_PRUNE_OUTBOX = text(
    "DELETE FROM outbox WHERE id IN (SELECT id FROM outbox"
    " WHERE status = 'published' AND published_at < :before LIMIT :batch)"
)
_PRUNE_INBOX = text(
    "DELETE FROM inbox WHERE (consumer_group, event_id) IN"
    " (SELECT consumer_group, event_id FROM inbox"
    "  WHERE consumer_group = :group AND applied_at < :before LIMIT :batch)"
)
_PRUNE_IDEMPOTENCY = text(
    "DELETE FROM idempotency_keys WHERE (scope, key) IN"
    " (SELECT scope, key FROM idempotency_keys WHERE expires_at <= :before LIMIT :batch)"
)
_HAS_IDEMPOTENCY = text("SELECT to_regclass('idempotency_keys') IS NOT NULL")


class Every:
    """Says when ``interval`` seconds have passed since it last said so (first: at once)."""

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self._next = time.monotonic()

    def due(self) -> bool:
        now = time.monotonic()
        if now < self._next:
            return False
        self._next = now + self.interval
        return True


async def delete_in_batches(
    db: Database, statement: TextClause, batch: int, **params: object
) -> int:
    """Run a ``DELETE ... WHERE <key> IN (SELECT <key> ... LIMIT :batch)`` statement, each
    time in its own transaction, until it deletes fewer than ``batch`` rows; returns the
    total. ``params`` fill the statement's other parameters."""
    total = 0
    while True:
        async with db.session() as session:
            result = await session.execute(statement, {**params, "batch": batch})
            deleted = int(getattr(result, "rowcount", 0) or 0)
        total += deleted
        if deleted < batch:
            return total


async def prune_outbox(
    db: Database, *, retention: timedelta, batch: int = 5000, now: datetime | None = None
) -> int:
    """Delete published outbox rows older than ``retention``; returns how many."""
    before = (now or datetime.now(UTC)) - retention
    return await delete_in_batches(db, _PRUNE_OUTBOX, batch, before=before)


async def prune_inbox(
    db: Database,
    group_id: str,
    *,
    retention: timedelta,
    batch: int = 5000,
    now: datetime | None = None,
) -> int:
    """Delete ``group_id``'s inbox rows applied more than ``retention`` ago."""
    before = (now or datetime.now(UTC)) - retention
    return await delete_in_batches(db, _PRUNE_INBOX, batch, group=group_id, before=before)


async def prune_idempotency_keys(
    db: Database, *, batch: int = 5000, now: datetime | None = None
) -> int:
    """Delete expired ``Idempotency-Key`` answers; 0 where the service has no such table."""
    async with db.session() as session:
        if not await session.scalar(_HAS_IDEMPOTENCY):
            return 0
    return await delete_in_batches(db, _PRUNE_IDEMPOTENCY, batch, before=now or datetime.now(UTC))
