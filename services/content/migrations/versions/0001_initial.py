"""Initial content schema: the identity read model (users, follows, blocks, follower
counts), communities and memberships, posts, comments, reactions, media, and the kit's
outbox and inbox tables.

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
    op.create_table(
        "blocks",
        sa.Column("blocker_id", sa.UUID(), nullable=False),
        sa.Column("blocked_id", sa.UUID(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("blocker_id", "blocked_id", name=op.f("pk_blocks")),
        schema="content",
    )
    op.create_index(
        "ix_blocks_blocked", "blocks", ["blocked_id", "blocker_id"], unique=False, schema="content"
    )
    op.create_table(
        "communities",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("slug", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("description", sa.String(length=2000), server_default="", nullable=False),
        sa.Column("visibility", sa.String(length=16), nullable=False),
        sa.Column("category", sa.String(length=64), nullable=True),
        sa.Column(
            "tags",
            postgresql.ARRAY(sa.Text()),
            server_default=sa.text("'{}'::text[]"),
            nullable=False,
        ),
        sa.Column("owner_id", sa.UUID(), nullable=False),
        sa.Column("member_count", sa.Integer(), server_default="0", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "visibility IN ('public', 'private')", name=op.f("ck_communities_visibility_valid")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_communities")),
        sa.UniqueConstraint("slug", name=op.f("uq_communities_slug")),
        schema="content",
    )
    op.create_index(
        "ix_communities_category", "communities", ["category"], unique=False, schema="content"
    )
    op.create_table(
        "follower_counts",
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column("followers", sa.Integer(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_follower_counts")),
        schema="content",
    )
    op.create_table(
        "follows",
        sa.Column("follower_id", sa.UUID(), nullable=False),
        sa.Column("followee_id", sa.UUID(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("follower_id", "followee_id", name=op.f("pk_follows")),
        schema="content",
    )
    op.create_index(
        "ix_follows_followee",
        "follows",
        ["followee_id", "follower_id"],
        unique=False,
        schema="content",
    )
    op.create_table(
        "media",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("owner_id", sa.UUID(), nullable=False),
        sa.Column("content_type", sa.String(length=64), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("width", sa.Integer(), nullable=True),
        sa.Column("height", sa.Integer(), nullable=True),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("storage_key", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_media")),
        schema="content",
    )
    op.create_index(
        "ix_media_owner", "media", ["owner_id", "created_at"], unique=False, schema="content"
    )
    op.create_table(
        "reactions",
        sa.Column("target_type", sa.String(length=8), nullable=False),
        sa.Column("target_id", sa.UUID(), nullable=False),
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "target_type IN ('post', 'comment')", name=op.f("ck_reactions_target_type_valid")
        ),
        sa.PrimaryKeyConstraint(
            "target_type", "target_id", "user_id", "kind", name=op.f("pk_reactions")
        ),
        schema="content",
    )
    op.create_table(
        "users",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("username_key", sa.String(length=64), nullable=False),
        sa.Column("display_name", sa.String(length=100), nullable=False),
        sa.Column("avatar_url", sa.String(length=2048), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        schema="content",
    )
    op.create_index(
        "ix_users_username_key_live",
        "users",
        ["username_key"],
        unique=False,
        schema="content",
        postgresql_where=sa.text("deleted_at IS NULL"),
    )
    op.create_table(
        "memberships",
        sa.Column("community_id", sa.UUID(), nullable=False),
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("joined_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "role IN ('owner', 'moderator', 'member')", name=op.f("ck_memberships_role_valid")
        ),
        sa.ForeignKeyConstraint(
            ["community_id"],
            ["content.communities.id"],
            name=op.f("fk_memberships_community_id_communities"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("community_id", "user_id", name=op.f("pk_memberships")),
        schema="content",
    )
    op.create_index(
        "ix_memberships_user",
        "memberships",
        ["user_id", "community_id"],
        unique=False,
        schema="content",
    )
    op.create_table(
        "posts",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("author_id", sa.UUID(), nullable=False),
        sa.Column("community_id", sa.UUID(), nullable=True),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column(
            "hashtags",
            postgresql.ARRAY(sa.Text()),
            server_default=sa.text("'{}'::text[]"),
            nullable=False,
        ),
        sa.Column(
            "mentions",
            postgresql.ARRAY(sa.UUID()),
            server_default=sa.text("'{}'::uuid[]"),
            nullable=False,
        ),
        sa.Column(
            "media_ids",
            postgresql.ARRAY(sa.UUID()),
            server_default=sa.text("'{}'::uuid[]"),
            nullable=False,
        ),
        sa.Column("visibility", sa.String(length=16), nullable=False),
        sa.Column("comment_count", sa.Integer(), server_default="0", nullable=False),
        sa.Column(
            "reaction_counts",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column("view_count", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("hot_score", sa.Float(), server_default="0", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("edited_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("kind IN ('post', 'reel')", name=op.f("ck_posts_kind_valid")),
        sa.CheckConstraint(
            "visibility <> 'community' OR community_id IS NOT NULL",
            name=op.f("ck_posts_community_visibility"),
        ),
        sa.CheckConstraint(
            "visibility IN ('public', 'followers', 'community')",
            name=op.f("ck_posts_visibility_valid"),
        ),
        sa.ForeignKeyConstraint(
            ["community_id"],
            ["content.communities.id"],
            name=op.f("fk_posts_community_id_communities"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_posts")),
        schema="content",
    )
    op.create_index(
        "ix_posts_author_live",
        "posts",
        ["author_id", sa.literal_column("created_at DESC"), sa.literal_column("id DESC")],
        unique=False,
        schema="content",
        postgresql_where=sa.text("deleted_at IS NULL"),
    )
    op.create_index(
        "ix_posts_community_live",
        "posts",
        ["community_id", sa.literal_column("created_at DESC"), sa.literal_column("id DESC")],
        unique=False,
        schema="content",
        postgresql_where=sa.text("deleted_at IS NULL AND community_id IS NOT NULL"),
    )
    op.create_index(
        "ix_posts_hashtags",
        "posts",
        ["hashtags"],
        unique=False,
        schema="content",
        postgresql_using="gin",
    )
    op.create_table(
        "comments",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("post_id", sa.UUID(), nullable=False),
        sa.Column("author_id", sa.UUID(), nullable=False),
        sa.Column("parent_id", sa.UUID(), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column(
            "mentions",
            postgresql.ARRAY(sa.UUID()),
            server_default=sa.text("'{}'::uuid[]"),
            nullable=False,
        ),
        sa.Column("reply_count", sa.Integer(), server_default="0", nullable=False),
        sa.Column(
            "reaction_counts",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("edited_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["parent_id"],
            ["content.comments.id"],
            name=op.f("fk_comments_parent_id_comments"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["post_id"],
            ["content.posts.id"],
            name=op.f("fk_comments_post_id_posts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_comments")),
        schema="content",
    )
    op.create_index(
        "ix_comments_parent",
        "comments",
        ["parent_id", "created_at", "id"],
        unique=False,
        schema="content",
    )
    op.create_index(
        "ix_comments_post",
        "comments",
        ["post_id", "created_at", "id"],
        unique=False,
        schema="content",
    )
    create_outbox_tables(op, "content")


def downgrade() -> None:
    drop_outbox_tables(op, "content")
    op.drop_index("ix_comments_post", table_name="comments", schema="content")
    op.drop_index("ix_comments_parent", table_name="comments", schema="content")
    op.drop_table("comments", schema="content")
    op.drop_index("ix_posts_hashtags", table_name="posts", schema="content", postgresql_using="gin")
    op.drop_index(
        "ix_posts_community_live",
        table_name="posts",
        schema="content",
        postgresql_where=sa.text("deleted_at IS NULL AND community_id IS NOT NULL"),
    )
    op.drop_index(
        "ix_posts_author_live",
        table_name="posts",
        schema="content",
        postgresql_where=sa.text("deleted_at IS NULL"),
    )
    op.drop_table("posts", schema="content")
    op.drop_index("ix_memberships_user", table_name="memberships", schema="content")
    op.drop_table("memberships", schema="content")
    op.drop_index(
        "ix_users_username_key_live",
        table_name="users",
        schema="content",
        postgresql_where=sa.text("deleted_at IS NULL"),
    )
    op.drop_table("users", schema="content")
    op.drop_table("reactions", schema="content")
    op.drop_index("ix_media_owner", table_name="media", schema="content")
    op.drop_table("media", schema="content")
    op.drop_index("ix_follows_followee", table_name="follows", schema="content")
    op.drop_table("follows", schema="content")
    op.drop_table("follower_counts", schema="content")
    op.drop_index("ix_communities_category", table_name="communities", schema="content")
    op.drop_table("communities", schema="content")
    op.drop_index("ix_blocks_blocked", table_name="blocks", schema="content")
    op.drop_table("blocks", schema="content")
