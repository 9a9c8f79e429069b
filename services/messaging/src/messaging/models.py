"""SQLAlchemy models of the messaging schema.

Relationships are not declared: every join is written out in a repository, so no
query runs behind anyone's back. ``users``, ``follows``, ``blocks`` and ``comments`` are
read models fed by other contexts' events; everything else messaging owns.
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
    Integer,
    PrimaryKeyConstraint,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy import (
    text as sql,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

SCHEMA = "messaging"


class Base(DeclarativeBase):
    metadata = make_metadata(SCHEMA)


def _tz() -> DateTime:
    return DateTime(timezone=True)


def _uuid() -> UUID[uuid.UUID]:
    return UUID(as_uuid=True)


# --- read models ------------------------------------------------------------------


class KnownUser(Base):
    """A user as identity last described them (``identity.user.v1``)."""

    __tablename__ = "users"

    id: Mapped[uuid.UUID] = mapped_column(_uuid(), primary_key=True)
    username: Mapped[str] = mapped_column(String(64))
    display_name: Mapped[str] = mapped_column(String(100))
    updated_at: Mapped[datetime] = mapped_column(_tz())
    deleted_at: Mapped[datetime | None] = mapped_column(_tz())


class Follow(Base):
    __tablename__ = "follows"

    follower_id: Mapped[uuid.UUID] = mapped_column(_uuid())
    followee_id: Mapped[uuid.UUID] = mapped_column(_uuid(), index=True)
    created_at: Mapped[datetime] = mapped_column(_tz())

    __table_args__ = (PrimaryKeyConstraint("follower_id", "followee_id"),)


class Block(Base):
    __tablename__ = "blocks"

    blocker_id: Mapped[uuid.UUID] = mapped_column(_uuid())
    blocked_id: Mapped[uuid.UUID] = mapped_column(_uuid(), index=True)
    created_at: Mapped[datetime] = mapped_column(_tz())

    __table_args__ = (PrimaryKeyConstraint("blocker_id", "blocked_id"),)


class CommentRef(Base):
    """Who wrote a comment, so a reply can notify the parent comment's author."""

    __tablename__ = "comments"

    id: Mapped[uuid.UUID] = mapped_column(_uuid(), primary_key=True)
    post_id: Mapped[uuid.UUID] = mapped_column(_uuid())
    author_id: Mapped[uuid.UUID] = mapped_column(_uuid())


# --- conversations and messages ---------------------------------------------------


class Conversation(Base):
    """A direct conversation (exactly one per unordered pair) or a group."""

    __tablename__ = "conversations"

    id: Mapped[uuid.UUID] = mapped_column(_uuid(), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    title: Mapped[str | None] = mapped_column(String(100))
    #: For direct conversations, the pair ordered (low < high): the unique key of the pair.
    pair_low: Mapped[uuid.UUID | None] = mapped_column(_uuid())
    pair_high: Mapped[uuid.UUID | None] = mapped_column(_uuid())
    created_by: Mapped[uuid.UUID] = mapped_column(_uuid())
    created_at: Mapped[datetime] = mapped_column(_tz())
    updated_at: Mapped[datetime] = mapped_column(_tz())
    last_message_at: Mapped[datetime | None] = mapped_column(_tz())
    #: The ``seq`` of the newest message (0 when there is none).
    last_seq: Mapped[int] = mapped_column(BigInteger, server_default=sql("0"))

    __table_args__ = (
        CheckConstraint("kind IN ('direct', 'group')", name="kind"),
        CheckConstraint(
            "(kind = 'direct' AND pair_low IS NOT NULL AND pair_high IS NOT NULL "
            "AND pair_low < pair_high) OR (kind = 'group' AND pair_low IS NULL "
            "AND pair_high IS NULL)",
            name="direct_pair",
        ),
        UniqueConstraint("pair_low", "pair_high", name="uq_conversations_direct_pair"),
    )


class Participant(Base):
    """A current member of a conversation. Leaving or removal deletes the row."""

    __tablename__ = "participants"

    conversation_id: Mapped[uuid.UUID] = mapped_column(
        _uuid(), ForeignKey("conversations.id", ondelete="CASCADE")
    )
    user_id: Mapped[uuid.UUID] = mapped_column(_uuid())
    role: Mapped[str] = mapped_column(String(16))
    joined_at: Mapped[datetime] = mapped_column(_tz())
    #: Messages up to this ``seq`` are read by this participant.
    last_read_seq: Mapped[int] = mapped_column(BigInteger, server_default=sql("0"))
    #: The message at ``last_read_seq`` (the read receipt others see), None before any.
    last_read_message_id: Mapped[uuid.UUID | None] = mapped_column(_uuid())
    muted: Mapped[bool] = mapped_column(Boolean, server_default=sql("false"))

    __table_args__ = (
        PrimaryKeyConstraint("conversation_id", "user_id"),
        CheckConstraint("role IN ('admin', 'member')", name="role"),
        Index("ix_participants_user", "user_id", "conversation_id"),
    )


class Message(Base):
    __tablename__ = "messages"

    id: Mapped[uuid.UUID] = mapped_column(_uuid(), primary_key=True)
    conversation_id: Mapped[uuid.UUID] = mapped_column(
        _uuid(), ForeignKey("conversations.id", ondelete="CASCADE")
    )
    #: Position in the conversation: 1, 2, 3... (history order, unread counts).
    seq: Mapped[int] = mapped_column(BigInteger)
    sender_id: Mapped[uuid.UUID] = mapped_column(_uuid())
    text: Mapped[str] = mapped_column(Text)
    reply_to_id: Mapped[uuid.UUID | None] = mapped_column(_uuid())
    attachments: Mapped[list[dict[str, Any]]] = mapped_column(
        JSONB, server_default=sql("'[]'::jsonb")
    )
    created_at: Mapped[datetime] = mapped_column(_tz())
    edited_at: Mapped[datetime | None] = mapped_column(_tz())
    deleted_at: Mapped[datetime | None] = mapped_column(_tz())
    idempotency_key: Mapped[str | None] = mapped_column(String(255))
    request_hash: Mapped[str | None] = mapped_column(String(64))
    idempotency_expires_at: Mapped[datetime | None] = mapped_column(_tz())

    __table_args__ = (
        UniqueConstraint("conversation_id", "seq", name="uq_messages_conversation_seq"),
        Index(
            "uq_messages_sender_idempotency_key",
            "sender_id",
            "idempotency_key",
            unique=True,
            postgresql_where=sql("idempotency_key IS NOT NULL"),
        ),
    )


# --- notifications ------------------------------------------------------------------


class Notification(Base):
    """One inbox entry; a burst of events about one subject updates the same entry."""

    __tablename__ = "notifications"

    id: Mapped[uuid.UUID] = mapped_column(_uuid(), primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(_uuid())
    type: Mapped[str] = mapped_column(String(16))
    subject_type: Mapped[str | None] = mapped_column(String(32))
    subject_id: Mapped[uuid.UUID | None] = mapped_column(_uuid())
    #: The most recent actors first, capped (settings.notification_actor_cap).
    actor_ids: Mapped[list[uuid.UUID]] = mapped_column(ARRAY(_uuid()))
    actor_count: Mapped[int] = mapped_column(Integer)
    summary: Mapped[str] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(_tz())
    updated_at: Mapped[datetime] = mapped_column(_tz())
    read_at: Mapped[datetime | None] = mapped_column(_tz())

    __table_args__ = (
        CheckConstraint(
            "type IN ('follow', 'comment', 'reply', 'reaction', 'mention', 'message', "
            "'moderation')",
            name="type",
        ),
        Index("ix_notifications_user_recent", "user_id", "updated_at", "id"),
        Index(
            "ix_notifications_user_unread",
            "user_id",
            postgresql_where=sql("read_at IS NULL"),
        ),
        Index("ix_notifications_batch", "user_id", "type", "subject_id", "created_at"),
    )


class NotificationActor(Base):
    """Each distinct actor of a notification once, so ``actor_count`` counts people."""

    __tablename__ = "notification_actors"

    notification_id: Mapped[uuid.UUID] = mapped_column(
        _uuid(), ForeignKey("notifications.id", ondelete="CASCADE")
    )
    actor_id: Mapped[uuid.UUID] = mapped_column(_uuid())

    __table_args__ = (PrimaryKeyConstraint("notification_id", "actor_id"),)


class NotificationPreference(Base):
    """The channel a user chose for one notification type (absent: the default)."""

    __tablename__ = "notification_preferences"

    user_id: Mapped[uuid.UUID] = mapped_column(_uuid())
    type: Mapped[str] = mapped_column(String(16))
    channel: Mapped[str] = mapped_column(String(8))

    __table_args__ = (
        PrimaryKeyConstraint("user_id", "type"),
        CheckConstraint("channel IN ('in_app', 'email', 'off')", name="channel"),
    )


class NotificationSettings(Base):
    """Per-user delivery settings: the digest address and how far digests have got."""

    __tablename__ = "notification_settings"

    user_id: Mapped[uuid.UUID] = mapped_column(_uuid(), primary_key=True)
    #: The confirmed digest address (the only one mail is sent to).
    email: Mapped[str | None] = mapped_column(String(320))
    #: An address asked for but not confirmed yet, and the SHA-256 of the code sent to it.
    pending_email: Mapped[str | None] = mapped_column(String(320))
    email_code_hash: Mapped[str | None] = mapped_column(String(64))
    email_code_expires_at: Mapped[datetime | None] = mapped_column(_tz())
    email_code_attempts: Mapped[int] = mapped_column(Integer, server_default=sql("0"))
    #: Notifications updated after this moment go into the next digest.
    digest_cursor: Mapped[datetime | None] = mapped_column(_tz())
    updated_at: Mapped[datetime] = mapped_column(_tz())


class Digest(Base):
    """One email digest: built once, sent at most once, retried with backoff."""

    __tablename__ = "digests"

    id: Mapped[uuid.UUID] = mapped_column(_uuid(), primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(_uuid(), index=True)
    email: Mapped[str] = mapped_column(String(320))
    notification_ids: Mapped[list[uuid.UUID]] = mapped_column(ARRAY(_uuid()))
    subject: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(8))
    attempts: Mapped[int] = mapped_column(Integer, server_default=sql("0"))
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(_tz())
    next_attempt_at: Mapped[datetime] = mapped_column(_tz())
    sent_at: Mapped[datetime | None] = mapped_column(_tz())

    __table_args__ = (
        CheckConstraint("status IN ('pending', 'sent', 'failed')", name="status"),
        Index("ix_digests_due", "next_attempt_at", postgresql_where=sql("status = 'pending'")),
    )


# --- calls --------------------------------------------------------------------------


class CallRoom(Base):
    __tablename__ = "call_rooms"

    id: Mapped[uuid.UUID] = mapped_column(_uuid(), primary_key=True)
    owner_id: Mapped[uuid.UUID] = mapped_column(_uuid(), index=True)
    title: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(_tz())
    expires_at: Mapped[datetime] = mapped_column(_tz())
    closed_at: Mapped[datetime | None] = mapped_column(_tz())
    close_reason: Mapped[str | None] = mapped_column(String(8))

    __table_args__ = (
        CheckConstraint("close_reason IN ('closed', 'expired')", name="close_reason"),
        Index("ix_call_rooms_open_expiry", "expires_at", postgresql_where=sql("closed_at IS NULL")),
    )


class CallToken(Base):
    """A single-use join token, stored only as its SHA-256 (the realtime service spends it)."""

    __tablename__ = "call_tokens"

    id: Mapped[uuid.UUID] = mapped_column(_uuid(), primary_key=True)
    room_id: Mapped[uuid.UUID] = mapped_column(
        _uuid(), ForeignKey("call_rooms.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[uuid.UUID] = mapped_column(_uuid())
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(_tz())
    expires_at: Mapped[datetime] = mapped_column(_tz())
