"""SQLAlchemy models of the search schema: the read model search needs and its statistics.

* ``follows``, ``blocks``, ``memberships``: the per-user graph and community membership
  data that visibility filters are built from, fed by identity and content events. Rows
  are kept with ``active`` and the time of the latest change, so an older event arriving
  late cannot undo a newer one.
* ``documents``: the latest source state (event data) of every indexed user, post and
  community, with its version time and a tombstone after deletion. It guards against
  out-of-order events and is what a reindex backfills new collection versions from.
* ``search_queries``: one row per query answered (statistics).
* ``reindex_jobs``: reindex runs and their outcome.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from kit.db import make_metadata
from kit.outbox import inbox_table
from sqlalchemy import BigInteger, Boolean, DateTime, Float, Index, Integer, String, Text, text
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

SCHEMA = "search"


class Base(DeclarativeBase):
    metadata = make_metadata(SCHEMA)


inbox_table(Base.metadata)


def _tz() -> DateTime:
    return DateTime(timezone=True)


class Follow(Base):
    """``follower_id`` follows ``followee_id`` while ``active``."""

    __tablename__ = "follows"

    follower_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    followee_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    active: Mapped[bool] = mapped_column(Boolean)
    changed_at: Mapped[datetime] = mapped_column(_tz())


class Block(Base):
    """``blocker_id`` blocks ``blocked_id`` while ``active``."""

    __tablename__ = "blocks"
    __table_args__ = (Index("ix_blocks_blocked_id", "blocked_id"),)

    blocker_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    blocked_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    active: Mapped[bool] = mapped_column(Boolean)
    changed_at: Mapped[datetime] = mapped_column(_tz())


class Membership(Base):
    """``user_id`` is a member of ``community_id`` (with ``role``) while ``active``."""

    __tablename__ = "memberships"
    __table_args__ = (Index("ix_memberships_user_id", "user_id"),)

    community_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    role: Mapped[str] = mapped_column(String(16))
    active: Mapped[bool] = mapped_column(Boolean)
    changed_at: Mapped[datetime] = mapped_column(_tz())


class Document(Base):
    """The latest known source state of one indexed entity (or its tombstone)."""

    __tablename__ = "documents"
    __table_args__ = (
        Index("ix_documents_collection_indexed_at", "collection", "indexed_at"),
        Index("ix_documents_author_id", "author_id"),
        Index("ix_documents_community_id", "community_id"),
    )

    collection: Mapped[str] = mapped_column(String(32), primary_key=True)
    doc_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    #: The entity's own change time (updated_at / deleted_at of the event applied).
    version_at: Mapped[datetime] = mapped_column(_tz())
    deleted: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    #: Database time of the last write here; a reindex catches up rows written after it began.
    indexed_at: Mapped[datetime] = mapped_column(_tz(), server_default=text("clock_timestamp()"))
    author_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    community_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    source: Mapped[dict[str, Any] | None] = mapped_column(JSONB)


class SearchQuery(Base):
    """One answered query: what was asked (normalised), how many hits, how long it took."""

    __tablename__ = "search_queries"
    __table_args__ = (Index("ix_search_queries_at", "at"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(_tz(), server_default=text("now()"))
    collection: Mapped[str] = mapped_column(String(32))
    query: Mapped[str] = mapped_column(Text)
    found: Mapped[int] = mapped_column(Integer)
    latency_ms: Mapped[float] = mapped_column(Float)


class ReindexJob(Base):
    """A reindex of one collection: building ``new_collection`` and swapping the alias."""

    __tablename__ = "reindex_jobs"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    collection: Mapped[str] = mapped_column(String(32))
    source: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    new_collection: Mapped[str | None] = mapped_column(String(128))
    old_collection: Mapped[str | None] = mapped_column(String(128))
    documents: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    replayed_events: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    error: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime] = mapped_column(_tz(), server_default=text("now()"))
    finished_at: Mapped[datetime | None] = mapped_column(_tz())
