"""Initial messaging schema: read models (users, follows, blocks, comments), conversations,
participants, messages, notifications with their actors, preferences and digest settings,
email digests, call rooms and join tokens, and the kit's outbox and inbox tables.

Revision ID: 0001_initial
Revises:
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from kit.outbox import create_outbox_tables, drop_outbox_tables
from sqlalchemy.dialects import postgresql

revision: str = "0001_initial"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    create_outbox_tables(op, "messaging")
    op.create_table(
        "blocks",
        sa.Column("blocker_id", sa.UUID(), nullable=False),
        sa.Column("blocked_id", sa.UUID(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("blocker_id", "blocked_id", name=op.f("pk_blocks")),
        schema="messaging",
    )
    op.create_index(
        op.f("ix_messaging_blocks_blocked_id"),
        "blocks",
        ["blocked_id"],
        unique=False,
        schema="messaging",
    )
    op.create_table(
        "call_rooms",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("owner_id", sa.UUID(), nullable=False),
        sa.Column("title", sa.String(length=100), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("close_reason", sa.String(length=8), nullable=True),
        sa.CheckConstraint(
            "close_reason IN ('closed', 'expired')", name=op.f("ck_call_rooms_close_reason")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_call_rooms")),
        schema="messaging",
    )
    op.create_index(
        "ix_call_rooms_open_expiry",
        "call_rooms",
        ["expires_at"],
        unique=False,
        schema="messaging",
        postgresql_where=sa.text("closed_at IS NULL"),
    )
    op.create_index(
        op.f("ix_messaging_call_rooms_owner_id"),
        "call_rooms",
        ["owner_id"],
        unique=False,
        schema="messaging",
    )
    op.create_table(
        "comments",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("post_id", sa.UUID(), nullable=False),
        sa.Column("author_id", sa.UUID(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_comments")),
        schema="messaging",
    )
    op.create_table(
        "conversations",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("title", sa.String(length=100), nullable=True),
        sa.Column("pair_low", sa.UUID(), nullable=True),
        sa.Column("pair_high", sa.UUID(), nullable=True),
        sa.Column("created_by", sa.UUID(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_message_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_seq", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.CheckConstraint(
            "(kind = 'direct' AND pair_low IS NOT NULL AND pair_high IS NOT NULL "
            "AND pair_low < pair_high) OR (kind = 'group' AND pair_low IS NULL "
            "AND pair_high IS NULL)",
            name=op.f("ck_conversations_direct_pair"),
        ),
        sa.CheckConstraint("kind IN ('direct', 'group')", name=op.f("ck_conversations_kind")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_conversations")),
        sa.UniqueConstraint("pair_low", "pair_high", name="uq_conversations_direct_pair"),
        schema="messaging",
    )
    op.create_table(
        "digests",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("notification_ids", postgresql.ARRAY(sa.UUID()), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('pending', 'sent', 'failed')", name=op.f("ck_digests_status")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_digests")),
        schema="messaging",
    )
    op.create_index(
        "ix_digests_due",
        "digests",
        ["next_attempt_at"],
        unique=False,
        schema="messaging",
        postgresql_where=sa.text("status = 'pending'"),
    )
    op.create_index(
        op.f("ix_messaging_digests_user_id"),
        "digests",
        ["user_id"],
        unique=False,
        schema="messaging",
    )
    op.create_table(
        "follows",
        sa.Column("follower_id", sa.UUID(), nullable=False),
        sa.Column("followee_id", sa.UUID(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("follower_id", "followee_id", name=op.f("pk_follows")),
        schema="messaging",
    )
    op.create_index(
        op.f("ix_messaging_follows_followee_id"),
        "follows",
        ["followee_id"],
        unique=False,
        schema="messaging",
    )
    op.create_table(
        "notification_preferences",
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column("channel", sa.String(length=8), nullable=False),
        sa.CheckConstraint(
            "channel IN ('in_app', 'email', 'off')",
            name=op.f("ck_notification_preferences_channel"),
        ),
        sa.PrimaryKeyConstraint("user_id", "type", name=op.f("pk_notification_preferences")),
        schema="messaging",
    )
    op.create_table(
        "notification_settings",
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("digest_cursor", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_notification_settings")),
        schema="messaging",
    )
    op.create_table(
        "notifications",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column("subject_type", sa.String(length=32), nullable=True),
        sa.Column("subject_id", sa.UUID(), nullable=True),
        sa.Column("actor_ids", postgresql.ARRAY(sa.UUID()), nullable=False),
        sa.Column("actor_count", sa.Integer(), nullable=False),
        sa.Column("summary", sa.String(length=500), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "type IN ('follow', 'comment', 'reply', 'reaction', 'mention', 'message', "
            "'moderation')",
            name=op.f("ck_notifications_type"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notifications")),
        schema="messaging",
    )
    op.create_index(
        "ix_notifications_batch",
        "notifications",
        ["user_id", "type", "subject_id", "created_at"],
        unique=False,
        schema="messaging",
    )
    op.create_index(
        "ix_notifications_user_recent",
        "notifications",
        ["user_id", "updated_at", "id"],
        unique=False,
        schema="messaging",
    )
    op.create_index(
        "ix_notifications_user_unread",
        "notifications",
        ["user_id"],
        unique=False,
        schema="messaging",
        postgresql_where=sa.text("read_at IS NULL"),
    )
    op.create_table(
        "users",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("display_name", sa.String(length=100), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        schema="messaging",
    )
    op.create_table(
        "call_tokens",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("room_id", sa.UUID(), nullable=False),
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column("token_sha256", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["room_id"],
            ["messaging.call_rooms.id"],
            name=op.f("fk_call_tokens_room_id_call_rooms"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_call_tokens")),
        sa.UniqueConstraint("token_sha256", name=op.f("uq_call_tokens_token_sha256")),
        schema="messaging",
    )
    op.create_index(
        op.f("ix_messaging_call_tokens_room_id"),
        "call_tokens",
        ["room_id"],
        unique=False,
        schema="messaging",
    )
    op.create_table(
        "messages",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("conversation_id", sa.UUID(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("sender_id", sa.UUID(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("reply_to_id", sa.UUID(), nullable=True),
        sa.Column(
            "attachments",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'[]'::jsonb"),
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("edited_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("idempotency_key", sa.String(length=255), nullable=True),
        sa.Column("request_hash", sa.String(length=64), nullable=True),
        sa.Column("idempotency_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["messaging.conversations.id"],
            name=op.f("fk_messages_conversation_id_conversations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_messages")),
        sa.UniqueConstraint("conversation_id", "seq", name="uq_messages_conversation_seq"),
        schema="messaging",
    )
    op.create_index(
        "uq_messages_sender_idempotency_key",
        "messages",
        ["sender_id", "idempotency_key"],
        unique=True,
        schema="messaging",
        postgresql_where=sa.text("idempotency_key IS NOT NULL"),
    )
    op.create_table(
        "notification_actors",
        sa.Column("notification_id", sa.UUID(), nullable=False),
        sa.Column("actor_id", sa.UUID(), nullable=False),
        sa.ForeignKeyConstraint(
            ["notification_id"],
            ["messaging.notifications.id"],
            name=op.f("fk_notification_actors_notification_id_notifications"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("notification_id", "actor_id", name=op.f("pk_notification_actors")),
        schema="messaging",
    )
    op.create_table(
        "participants",
        sa.Column("conversation_id", sa.UUID(), nullable=False),
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("joined_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_read_seq", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("last_read_message_id", sa.UUID(), nullable=True),
        sa.Column("muted", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.CheckConstraint("role IN ('admin', 'member')", name=op.f("ck_participants_role")),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["messaging.conversations.id"],
            name=op.f("fk_participants_conversation_id_conversations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("conversation_id", "user_id", name=op.f("pk_participants")),
        schema="messaging",
    )
    op.create_index(
        "ix_participants_user",
        "participants",
        ["user_id", "conversation_id"],
        unique=False,
        schema="messaging",
    )


def downgrade() -> None:
    op.drop_index("ix_participants_user", table_name="participants", schema="messaging")
    op.drop_table("participants", schema="messaging")
    op.drop_table("notification_actors", schema="messaging")
    op.drop_index(
        "uq_messages_sender_idempotency_key",
        table_name="messages",
        schema="messaging",
        postgresql_where=sa.text("idempotency_key IS NOT NULL"),
    )
    op.drop_table("messages", schema="messaging")
    op.drop_index(
        op.f("ix_messaging_call_tokens_room_id"), table_name="call_tokens", schema="messaging"
    )
    op.drop_table("call_tokens", schema="messaging")
    op.drop_table("users", schema="messaging")
    op.drop_index(
        "ix_notifications_user_unread",
        table_name="notifications",
        schema="messaging",
        postgresql_where=sa.text("read_at IS NULL"),
    )
    op.drop_index("ix_notifications_user_recent", table_name="notifications", schema="messaging")
    op.drop_index("ix_notifications_batch", table_name="notifications", schema="messaging")
    op.drop_table("notifications", schema="messaging")
    op.drop_table("notification_settings", schema="messaging")
    op.drop_table("notification_preferences", schema="messaging")
    op.drop_index(
        op.f("ix_messaging_follows_followee_id"), table_name="follows", schema="messaging"
    )
    op.drop_table("follows", schema="messaging")
    op.drop_index(op.f("ix_messaging_digests_user_id"), table_name="digests", schema="messaging")
    op.drop_index(
        "ix_digests_due",
        table_name="digests",
        schema="messaging",
        postgresql_where=sa.text("status = 'pending'"),
    )
    op.drop_table("digests", schema="messaging")
    op.drop_table("conversations", schema="messaging")
    op.drop_table("comments", schema="messaging")
    op.drop_index(
        op.f("ix_messaging_call_rooms_owner_id"), table_name="call_rooms", schema="messaging"
    )
    op.drop_index(
        "ix_call_rooms_open_expiry",
        table_name="call_rooms",
        schema="messaging",
        postgresql_where=sa.text("closed_at IS NULL"),
    )
    op.drop_table("call_rooms", schema="messaging")
    op.drop_index(op.f("ix_messaging_blocks_blocked_id"), table_name="blocks", schema="messaging")
    op.drop_table("blocks", schema="messaging")
    drop_outbox_tables(op, "messaging")
