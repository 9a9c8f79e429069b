"""Every query of the search read model (graph, memberships, document versions).

Writes are conditional on time: a row changes only when the incoming change is at least
as new as what is stored, so events applied twice or out of order converge on the
latest state. A document tombstone (``deleted``) is final.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

#: pg advisory lock shared by event handlers and taken exclusively by a reindex's swap.
INDEX_LOCK_KEY = 0x5EA4C4


async def lock_index_shared(session: AsyncSession) -> None:
    """Hold the index lock in shared mode until the transaction ends."""
    await session.execute(text("SELECT pg_advisory_xact_lock_shared(:k)"), {"k": INDEX_LOCK_KEY})


async def lock_index_exclusive(session: AsyncSession) -> None:
    """Wait for in-flight handlers to commit and keep new ones out until this transaction
    ends."""
    await session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": INDEX_LOCK_KEY})


async def set_edge(
    session: AsyncSession,
    table: str,
    *,
    a: tuple[str, uuid.UUID],
    b: tuple[str, uuid.UUID],
    active: bool,
    at: datetime,
    role: str | None = None,
) -> bool:
    """Upsert a follow/block/membership row unless a newer change is stored; True if written."""
    assert table in ("follows", "blocks", "memberships")
    columns = [a[0], b[0], "active", "changed_at"]
    params: dict[str, Any] = {a[0]: a[1], b[0]: b[1], "active": active, "changed_at": at}
    updates = "active = excluded.active, changed_at = excluded.changed_at"
    if table == "memberships":
        columns.append("role")
        params["role"] = role or "member"
        updates += ", role = excluded.role"
    names = ", ".join(columns)
    values = ", ".join(f":{c}" for c in columns)
    result = await session.execute(
        text(
            f"INSERT INTO {table} ({names}) VALUES ({values}) "  # noqa: S608 - fixed names
            f"ON CONFLICT ({a[0]}, {b[0]}) DO UPDATE SET {updates} "
            f"WHERE {table}.changed_at <= excluded.changed_at RETURNING 1"
        ),
        params,
    )
    return result.scalar() is not None


async def deactivate_user_edges(session: AsyncSession, user_id: uuid.UUID, at: datetime) -> None:
    """End every follow, block and membership of a deleted user (as of ``at``)."""
    for table, left, right in (
        ("follows", "follower_id", "followee_id"),
        ("blocks", "blocker_id", "blocked_id"),
        ("memberships", "user_id", "user_id"),
    ):
        await session.execute(
            text(
                f"UPDATE {table} SET active = false, changed_at = :at "  # noqa: S608
                f"WHERE ({left} = :u OR {right} = :u) AND changed_at <= :at"
            ),
            {"u": user_id, "at": at},
        )


@dataclass(frozen=True)
class StoredDocument:
    doc_id: uuid.UUID
    version_at: datetime
    deleted: bool
    source: dict[str, Any] | None


async def get_document(
    session: AsyncSession, collection: str, doc_id: uuid.UUID, *, for_update: bool = False
) -> StoredDocument | None:
    row = (
        await session.execute(
            text(
                "SELECT doc_id, version_at, deleted, source FROM documents "  # noqa: S608
                "WHERE collection = :c AND doc_id = :d" + (" FOR UPDATE" if for_update else "")
            ),
            {"c": collection, "d": doc_id},
        )
    ).first()
    return StoredDocument(row[0], row[1], row[2], row[3]) if row else None


async def put_document(
    session: AsyncSession,
    collection: str,
    doc_id: uuid.UUID,
    *,
    version_at: datetime,
    source: Mapping[str, Any],
    author_id: uuid.UUID | None = None,
    community_id: uuid.UUID | None = None,
) -> bool:
    """Store the source state unless a newer version or a tombstone is stored; True if
    written (the index must then be updated)."""
    result = await session.execute(
        text(
            "INSERT INTO documents (collection, doc_id, version_at, deleted, author_id, "
            "community_id, source, indexed_at) VALUES (:c, :d, :v, false, :a, :cm, "
            "CAST(:s AS jsonb), clock_timestamp()) "
            "ON CONFLICT (collection, doc_id) DO UPDATE SET version_at = excluded.version_at, "
            "author_id = excluded.author_id, community_id = excluded.community_id, "
            "source = excluded.source, indexed_at = clock_timestamp() "
            "WHERE NOT documents.deleted AND documents.version_at <= excluded.version_at "
            "RETURNING 1"
        ),
        {
            "c": collection,
            "d": doc_id,
            "v": version_at,
            "a": author_id,
            "cm": community_id,
            "s": _json(source),
        },
    )
    return result.scalar() is not None


async def tombstone_document(
    session: AsyncSession,
    collection: str,
    doc_id: uuid.UUID,
    *,
    deleted_at: datetime,
    author_id: uuid.UUID | None = None,
    community_id: uuid.UUID | None = None,
) -> bool:
    """Mark a document deleted (creating the tombstone if it was never seen); True if this
    changed anything. Later events about it are ignored."""
    result = await session.execute(
        text(
            "INSERT INTO documents (collection, doc_id, version_at, deleted, author_id, "
            "community_id, source, indexed_at) VALUES (:c, :d, :v, true, :a, :cm, NULL, "
            "clock_timestamp()) "
            "ON CONFLICT (collection, doc_id) DO UPDATE SET deleted = true, "
            "version_at = GREATEST(documents.version_at, excluded.version_at), source = NULL, "
            "indexed_at = clock_timestamp() WHERE NOT documents.deleted RETURNING 1"
        ),
        {"c": collection, "d": doc_id, "v": deleted_at, "a": author_id, "cm": community_id},
    )
    return result.scalar() is not None


async def tombstone_posts_of(session: AsyncSession, author_id: uuid.UUID, at: datetime) -> int:
    """Mark every stored post of ``author_id`` deleted; how many were live."""
    result = await session.execute(
        text(
            "UPDATE documents SET deleted = true, source = NULL, "
            "version_at = GREATEST(version_at, :at), indexed_at = clock_timestamp() "
            "WHERE collection = 'posts' AND author_id = :a AND NOT deleted"
        ),
        {"a": author_id, "at": at},
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def is_deleted(session: AsyncSession, collection: str, doc_id: uuid.UUID) -> bool:
    return bool(
        await session.scalar(
            text("SELECT deleted FROM documents WHERE collection = :c AND doc_id = :d"),
            {"c": collection, "d": doc_id},
        )
    )


async def community_visibility(session: AsyncSession, community_id: uuid.UUID) -> str | None:
    """The visibility the read model holds for a community (None when unknown)."""
    value = await session.scalar(
        text(
            "SELECT source->>'visibility' FROM documents "
            "WHERE collection = 'communities' AND doc_id = :d AND NOT deleted"
        ),
        {"d": community_id},
    )
    return str(value) if value else None


async def community_visibilities(session: AsyncSession) -> dict[str, str]:
    """Every known community's visibility, by id (reindex of posts)."""
    rows = await session.execute(
        text(
            "SELECT doc_id, source->>'visibility' FROM documents "
            "WHERE collection = 'communities' AND NOT deleted"
        )
    )
    return {str(r[0]): str(r[1]) for r in rows if r[1]}


async def live_posts_in(session: AsyncSession, community_id: uuid.UUID) -> list[dict[str, Any]]:
    rows = await session.execute(
        text(
            "SELECT source FROM documents WHERE collection = 'posts' "
            "AND community_id = :c AND NOT deleted"
        ),
        {"c": community_id},
    )
    return [r[0] for r in rows if r[0] is not None]


async def stream_documents(
    session: AsyncSession,
    collection: str,
    *,
    changed_since: datetime | None = None,
    include_deleted: bool = False,
    batch: int = 500,
) -> AsyncIterator[list[StoredDocument]]:
    """Stored documents of ``collection`` in id order, ``batch`` at a time (keyset paging)."""
    last: uuid.UUID | None = None
    while True:
        clauses = ["collection = :c"]
        params: dict[str, Any] = {"c": collection, "n": batch}
        if not include_deleted:
            clauses.append("NOT deleted")
        if changed_since is not None:
            clauses.append("indexed_at >= :since")
            params["since"] = changed_since
        if last is not None:
            clauses.append("doc_id > :last")
            params["last"] = last
        rows = (
            await session.execute(
                text(
                    "SELECT doc_id, version_at, deleted, source FROM documents WHERE "  # noqa: S608
                    + " AND ".join(clauses)
                    + " ORDER BY doc_id LIMIT :n"
                ),
                params,
            )
        ).all()
        if not rows:
            return
        yield [StoredDocument(r[0], r[1], r[2], r[3]) for r in rows]
        last = rows[-1][0]
        if len(rows) < batch:
            return


async def db_now(session: AsyncSession) -> datetime:
    value: datetime = await session.scalar(text("SELECT clock_timestamp()"))
    return value


def _json(value: Mapping[str, Any]) -> str:
    import orjson

    return orjson.dumps(dict(value)).decode()
