import uuid
from datetime import UTC, datetime, timedelta

import pytest
from kit import housekeeping
from kit.consumer import EventConsumer
from kit.db import Database
from kit.outbox import OutboxRelay
from kit.settings import ServiceSettings
from sqlalchemy import text

pytestmark = pytest.mark.integration

NOW = datetime.now(UTC)
OLD = NOW - timedelta(days=30)


async def add_outbox(db: Database, status: str, published_at: datetime | None) -> uuid.UUID:
    row_id = uuid.uuid4()
    async with db.session() as s:
        await s.execute(
            text(
                "INSERT INTO outbox (id, topic, type, source, data, status, published_at,"
                " created_at) VALUES (:id, 't', 'x.y', 'test', '{}', :status, :pub, :created)"
            ),
            {"id": row_id, "status": status, "pub": published_at, "created": OLD},
        )
    return row_id


async def outbox_ids(db: Database) -> set[uuid.UUID]:
    async with db.session() as s:
        return set((await s.execute(text("SELECT id FROM outbox"))).scalars())


async def test_only_published_rows_past_retention_leave_the_outbox(db: Database) -> None:
    old_published = {await add_outbox(db, "published", OLD) for _ in range(5)}
    recent = await add_outbox(db, "published", NOW - timedelta(minutes=1))
    pending = await add_outbox(db, "pending", None)
    failed = await add_outbox(db, "failed", None)

    deleted = await housekeeping.prune_outbox(db, retention=timedelta(days=3), batch=2)
    assert deleted == len(old_published)  # in batches of two, until none is left
    assert await outbox_ids(db) == {recent, pending, failed}


async def test_inbox_rows_are_pruned_per_group_past_retention(db: Database) -> None:
    async with db.session() as s:
        for group, applied in [("g1", OLD), ("g1", OLD), ("g1", NOW), ("g2", OLD)]:
            await s.execute(
                text(
                    "INSERT INTO inbox (consumer_group, event_id, applied_at) VALUES (:g, :id, :at)"
                ),
                {"g": group, "id": uuid.uuid4(), "at": applied},
            )
    assert await housekeeping.prune_inbox(db, "g1", retention=timedelta(days=14)) == 2
    async with db.session() as s:
        left = (await s.execute(text("SELECT consumer_group FROM inbox ORDER BY 1"))).scalars()
        assert list(left) == ["g1", "g2"]


async def test_relay_and_consumer_housekeeping_use_the_settings(
    settings: ServiceSettings, db: Database
) -> None:
    await add_outbox(db, "published", OLD)
    async with db.session() as s:
        await s.execute(
            text(
                "INSERT INTO idempotency_keys (scope, key, request_hash, status_code,"
                " created_at, expires_at) VALUES ('s', 'k', 'h', 201, :old, :old)"
            ),
            {"old": OLD},
        )
        await s.execute(
            text("INSERT INTO inbox (consumer_group, event_id, applied_at) VALUES ('g', :id, :at)"),
            {"id": uuid.uuid4(), "at": OLD},
        )
    seen: list[Database] = []

    async def own_tables(database: Database) -> int:
        seen.append(database)
        return 5

    relay = OutboxRelay(settings, db, housekeeping=[own_tables])
    assert await relay.housekeep() == 2 + 5  # the outbox row, the key, the service's own
    assert seen == [db]
    decade = settings.model_copy(update={"inbox_retention_s": 10 * 365 * 24 * 3600.0})
    keeps = EventConsumer(decade, db, "g", ["unused"], handler=None)  # type: ignore[arg-type]
    assert await keeps.housekeep() == 0  # 30 days old is within ten years
    consumer = EventConsumer(settings, db, "g", ["unused"], handler=None)  # type: ignore[arg-type]
    assert await consumer.housekeep() == 1


def test_every_is_due_at_once_then_after_its_interval() -> None:
    every = housekeeping.Every(3600)
    assert every.due() is True
    assert every.due() is False
    assert housekeeping.Every(0).due() and housekeeping.Every(0).due()
