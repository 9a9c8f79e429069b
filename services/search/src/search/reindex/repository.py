"""Queries on ``reindex_jobs``."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

COLUMNS = (
    "id, collection, source, status, new_collection, old_collection, documents, "
    "replayed_events, error, started_at, finished_at"
)


async def create_job(
    session: AsyncSession, job_id: uuid.UUID, collection: str, source: str
) -> None:
    await session.execute(
        text(
            "INSERT INTO reindex_jobs (id, collection, source, status) "
            "VALUES (:id, :c, :s, 'running')"
        ),
        {"id": job_id, "c": collection, "s": source},
    )


async def update_job(session: AsyncSession, job_id: uuid.UUID, **values: Any) -> None:
    allowed = {
        "status",
        "new_collection",
        "old_collection",
        "documents",
        "replayed_events",
        "error",
    }
    assert set(values) <= allowed | {"finished"}
    sets = [f"{k} = :{k}" for k in values if k != "finished"]
    if values.pop("finished", False):
        sets.append("finished_at = now()")
    await session.execute(
        text(f"UPDATE reindex_jobs SET {', '.join(sets)} WHERE id = :id"),  # noqa: S608
        {**values, "id": job_id},
    )


async def get_job(session: AsyncSession, job_id: uuid.UUID) -> dict[str, Any] | None:
    row = (
        (
            await session.execute(
                text(f"SELECT {COLUMNS} FROM reindex_jobs WHERE id = :id"),  # noqa: S608
                {"id": job_id},
            )
        )
        .mappings()
        .first()
    )
    return dict(row) if row else None


async def running_job(session: AsyncSession, collection: str) -> uuid.UUID | None:
    value = await session.scalar(
        text(
            "SELECT id FROM reindex_jobs WHERE collection = :c AND status = 'running' "
            "ORDER BY started_at DESC LIMIT 1"
        ),
        {"c": collection},
    )
    return value if isinstance(value, uuid.UUID) else None
