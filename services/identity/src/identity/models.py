"""SQLAlchemy models of the identity schema.

Relationships are not declared: every join is written out in a repository,
so no query runs behind anyone's back.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from kit.db import make_metadata
from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    LargeBinary,
    PrimaryKeyConstraint,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

SCHEMA = "identity"


class Base(DeclarativeBase):
    metadata = make_metadata(SCHEMA)


def _tz() -> DateTime:
    return DateTime(timezone=True)


class User(Base):
    """An account. Deleted accounts keep their row (``deleted_at`` set, profile cleared)."""

    __tablename__ = "users"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    email: Mapped[str] = mapped_column(String(320))
    email_key: Mapped[str] = mapped_column(String(320))
    username: Mapped[str] = mapped_column(String(30))
    username_key: Mapped[str] = mapped_column(String(30))
    password_hash: Mapped[str] = mapped_column(Text)
    display_name: Mapped[str] = mapped_column(String(100))
    bio: Mapped[str | None] = mapped_column(String(1000))
    avatar_url: Mapped[str | None] = mapped_column(String(2048))
    locale: Mapped[str] = mapped_column(String(35), server_default="ar")
    roles: Mapped[list[str]] = mapped_column(
        ARRAY(Text), server_default=text("ARRAY['user']::text[]")
    )
    totp_enabled: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    totp_secret_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    totp_pending_secret_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    totp_last_step: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(_tz())
    updated_at: Mapped[datetime] = mapped_column(_tz())
    deleted_at: Mapped[datetime | None] = mapped_column(_tz())

    __table_args__ = (
        Index(
            "uq_users_email_key_live",
            "email_key",
            unique=True,
            postgresql_where=text("deleted_at IS NULL"),
        ),
        Index(
            "uq_users_username_key_live",
            "username_key",
            unique=True,
            postgresql_where=text("deleted_at IS NULL"),
        ),
        Index("ix_users_username_key", "username_key"),
    )


class RecoveryCode(Base):
    """A one-time 2FA recovery code, stored as its SHA-256."""

    __tablename__ = "recovery_codes"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("users.id", ondelete="CASCADE")
    )
    code_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(_tz())
    used_at: Mapped[datetime | None] = mapped_column(_tz())

    __table_args__ = (UniqueConstraint("user_id", "code_hash"),)


class AuthSession(Base):
    """A login session: the family every refresh token of one login belongs to."""

    __tablename__ = "sessions"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(_tz())
    last_used_at: Mapped[datetime] = mapped_column(_tz())
    expires_at: Mapped[datetime] = mapped_column(_tz())
    revoked_at: Mapped[datetime | None] = mapped_column(_tz())
    revoke_reason: Mapped[str | None] = mapped_column(String(40))
    user_agent: Mapped[str | None] = mapped_column(String(512))
    ip: Mapped[str | None] = mapped_column(String(64))


class RefreshToken(Base):
    """One refresh token of a session, stored as its SHA-256; spent once used."""

    __tablename__ = "refresh_tokens"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    session_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("sessions.id", ondelete="CASCADE"), index=True
    )
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    state: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(_tz())
    expires_at: Mapped[datetime] = mapped_column(_tz())
    spent_at: Mapped[datetime | None] = mapped_column(_tz())

    __table_args__ = (CheckConstraint("state IN ('active', 'spent', 'revoked')", name="state"),)


class SigningKey(Base):
    """An RSA signing key; the private half sealed with the key-encryption secret."""

    __tablename__ = "signing_keys"

    kid: Mapped[str] = mapped_column(String(64), primary_key=True)
    private_key_enc: Mapped[bytes] = mapped_column(LargeBinary)
    public_jwk: Mapped[dict[str, Any]] = mapped_column(JSONB)
    active: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[datetime] = mapped_column(_tz())
    rotated_at: Mapped[datetime | None] = mapped_column(_tz())
    retire_at: Mapped[datetime | None] = mapped_column(_tz())

    __table_args__ = (
        Index("uq_signing_keys_one_active", "active", unique=True, postgresql_where=text("active")),
    )


class Follow(Base):
    __tablename__ = "follows"

    follower_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("users.id", ondelete="CASCADE")
    )
    followee_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("users.id", ondelete="CASCADE")
    )
    created_at: Mapped[datetime] = mapped_column(_tz())

    __table_args__ = (
        PrimaryKeyConstraint("follower_id", "followee_id"),
        CheckConstraint("follower_id <> followee_id", name="not_self"),
        Index("ix_follows_followee_recent", "followee_id", "created_at", "follower_id"),
        Index("ix_follows_follower_recent", "follower_id", "created_at", "followee_id"),
    )


class Block(Base):
    __tablename__ = "blocks"

    blocker_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("users.id", ondelete="CASCADE")
    )
    blocked_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(_tz())

    __table_args__ = (
        PrimaryKeyConstraint("blocker_id", "blocked_id"),
        CheckConstraint("blocker_id <> blocked_id", name="not_self"),
    )
