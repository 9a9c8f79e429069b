"""SQLAlchemy models of the content schema.

Two kinds of tables live here: what content owns (communities, memberships, posts,
comments, reactions, media) and its read model of identity (users, follows, blocks,
follower counts), fed only by identity's events. Relationships are not declared:
every join is written out in a repository.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from kit.db import make_metadata
from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
)
from sqlalchemy import (
    text as sa_text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

SCHEMA = "content"


class Base(DeclarativeBase):
    metadata = make_metadata(SCHEMA)


def _tz() -> DateTime:
    return DateTime(timezone=True)


def _uuid() -> UUID[uuid.UUID]:
    return UUID(as_uuid=True)


# --------------------------------------------------------------------- identity read model


class User(Base):
    """A user as identity last described it (``identity.user.v1``)."""

    __tablename__ = "users"

    id: Mapped[uuid.UUID] = mapped_column(_uuid(), primary_key=True)
    username: Mapped[str] = mapped_column(String(64))
    username_key: Mapped[str] = mapped_column(String(64))
    display_name: Mapped[str] = mapped_column(String(100))
    avatar_url: Mapped[str | None] = mapped_column(String(2048))
    updated_at: Mapped[datetime] = mapped_column(_tz())
    deleted_at: Mapped[datetime | None] = mapped_column(_tz())

    __table_args__ = (
        Index(
            "ix_users_username_key_live",
            "username_key",
            postgresql_where=sa_text("deleted_at IS NULL"),
        ),
    )


class Follow(Base):
    __tablename__ = "follows"

    follower_id: Mapped[uuid.UUID] = mapped_column(_uuid(), primary_key=True)
    followee_id: Mapped[uuid.UUID] = mapped_column(_uuid(), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(_tz())

    __table_args__ = (Index("ix_follows_followee", "followee_id", "follower_id"),)


class FollowerCount(Base):
    """How many followers a user has (decides fan-out on write or pull at read)."""

    __tablename__ = "follower_counts"

    user_id: Mapped[uuid.UUID] = mapped_column(_uuid(), primary_key=True)
    followers: Mapped[int] = mapped_column(Integer, server_default="0")


class Block(Base):
    __tablename__ = "blocks"

    blocker_id: Mapped[uuid.UUID] = mapped_column(_uuid(), primary_key=True)
    blocked_id: Mapped[uuid.UUID] = mapped_column(_uuid(), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(_tz())

    __table_args__ = (Index("ix_blocks_blocked", "blocked_id", "blocker_id"),)


# --------------------------------------------------------------------------- communities


class Community(Base):
    __tablename__ = "communities"

    id: Mapped[uuid.UUID] = mapped_column(_uuid(), primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    description: Mapped[str] = mapped_column(String(2000), server_default="")
    visibility: Mapped[str] = mapped_column(String(16))
    category: Mapped[str | None] = mapped_column(String(64))
    tags: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default=sa_text("'{}'::text[]"))
    owner_id: Mapped[uuid.UUID] = mapped_column(_uuid())
    member_count: Mapped[int] = mapped_column(Integer, server_default="0")
    created_at: Mapped[datetime] = mapped_column(_tz())
    updated_at: Mapped[datetime] = mapped_column(_tz())

    __table_args__ = (
        CheckConstraint("visibility IN ('public', 'private')", name="visibility_valid"),
        Index("ix_communities_category", "category"),
    )


class Membership(Base):
    __tablename__ = "memberships"

    community_id: Mapped[uuid.UUID] = mapped_column(
        _uuid(), ForeignKey("communities.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[uuid.UUID] = mapped_column(_uuid(), primary_key=True)
    role: Mapped[str] = mapped_column(String(16))
    joined_at: Mapped[datetime] = mapped_column(_tz())

    __table_args__ = (
        CheckConstraint("role IN ('owner', 'moderator', 'member')", name="role_valid"),
        Index("ix_memberships_user", "user_id", "community_id"),
    )


# ------------------------------------------------------------------------ posts and media


class Media(Base):
    """An uploaded file; the bytes live in the storage backend under ``storage_key``."""

    __tablename__ = "media"

    id: Mapped[uuid.UUID] = mapped_column(_uuid(), primary_key=True)
    owner_id: Mapped[uuid.UUID] = mapped_column(_uuid())
    content_type: Mapped[str] = mapped_column(String(64))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    width: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    storage_key: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(_tz())

    __table_args__ = (Index("ix_media_owner", "owner_id", "created_at"),)


class Post(Base):
    __tablename__ = "posts"

    id: Mapped[uuid.UUID] = mapped_column(_uuid(), primary_key=True)
    author_id: Mapped[uuid.UUID] = mapped_column(_uuid())
    community_id: Mapped[uuid.UUID | None] = mapped_column(
        _uuid(), ForeignKey("communities.id", ondelete="RESTRICT")
    )
    kind: Mapped[str] = mapped_column(String(8))
    text: Mapped[str] = mapped_column(Text)
    hashtags: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default=sa_text("'{}'::text[]"))
    mentions: Mapped[list[uuid.UUID]] = mapped_column(
        ARRAY(_uuid()), server_default=sa_text("'{}'::uuid[]")
    )
    media_ids: Mapped[list[uuid.UUID]] = mapped_column(
        ARRAY(_uuid()), server_default=sa_text("'{}'::uuid[]")
    )
    visibility: Mapped[str] = mapped_column(String(16))
    comment_count: Mapped[int] = mapped_column(Integer, server_default="0")
    reaction_counts: Mapped[dict[str, Any]] = mapped_column(
        JSONB, server_default=sa_text("'{}'::jsonb")
    )
    view_count: Mapped[int] = mapped_column(BigInteger, server_default="0")
    hot_score: Mapped[float] = mapped_column(Float, server_default="0")
    created_at: Mapped[datetime] = mapped_column(_tz())
    updated_at: Mapped[datetime] = mapped_column(_tz())
    edited_at: Mapped[datetime | None] = mapped_column(_tz())
    deleted_at: Mapped[datetime | None] = mapped_column(_tz())

    __table_args__ = (
        CheckConstraint("kind IN ('post', 'reel')", name="kind_valid"),
        CheckConstraint(
            "visibility IN ('public', 'followers', 'community')", name="visibility_valid"
        ),
        CheckConstraint(
            "visibility <> 'community' OR community_id IS NOT NULL", name="community_visibility"
        ),
        Index(
            "ix_posts_author_live",
            "author_id",
            sa_text("created_at DESC"),
            sa_text("id DESC"),
            postgresql_where=sa_text("deleted_at IS NULL"),
        ),
        Index(
            "ix_posts_community_live",
            "community_id",
            sa_text("created_at DESC"),
            sa_text("id DESC"),
            postgresql_where=sa_text("deleted_at IS NULL AND community_id IS NOT NULL"),
        ),
        Index("ix_posts_hashtags", "hashtags", postgresql_using="gin"),
    )


class Comment(Base):
    __tablename__ = "comments"

    id: Mapped[uuid.UUID] = mapped_column(_uuid(), primary_key=True)
    post_id: Mapped[uuid.UUID] = mapped_column(_uuid(), ForeignKey("posts.id", ondelete="CASCADE"))
    author_id: Mapped[uuid.UUID] = mapped_column(_uuid())
    parent_id: Mapped[uuid.UUID | None] = mapped_column(
        _uuid(), ForeignKey("comments.id", ondelete="CASCADE")
    )
    text: Mapped[str] = mapped_column(Text)
    mentions: Mapped[list[uuid.UUID]] = mapped_column(
        ARRAY(_uuid()), server_default=sa_text("'{}'::uuid[]")
    )
    reply_count: Mapped[int] = mapped_column(Integer, server_default="0")
    reaction_counts: Mapped[dict[str, Any]] = mapped_column(
        JSONB, server_default=sa_text("'{}'::jsonb")
    )
    created_at: Mapped[datetime] = mapped_column(_tz())
    updated_at: Mapped[datetime] = mapped_column(_tz())
    edited_at: Mapped[datetime | None] = mapped_column(_tz())
    deleted_at: Mapped[datetime | None] = mapped_column(_tz())

    __table_args__ = (
        Index("ix_comments_post", "post_id", "created_at", "id"),
        Index("ix_comments_parent", "parent_id", "created_at", "id"),
    )


class Reaction(Base):
    """One reaction of one kind by one user on a post or a comment."""

    __tablename__ = "reactions"

    target_type: Mapped[str] = mapped_column(String(8), primary_key=True)
    target_id: Mapped[uuid.UUID] = mapped_column(_uuid(), primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(_uuid(), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(_tz())

    __table_args__ = (
        CheckConstraint("target_type IN ('post', 'comment')", name="target_type_valid"),
    )
