"""Initial search schema: graph and membership read model, indexed document versions,
query statistics, reindex jobs, and the kit's outbox and inbox tables.

Revision ID: 0001_initial
Revises:
Create Date: 2026-11-27
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

TZ = sa.DateTime(timezone=True)
UUID = postgresql.UUID(as_uuid=True)


def upgrade() -> None:
    op.create_table(
        "follows",
        sa.Column("follower_id", UUID, nullable=False),
        sa.Column("followee_id", UUID, nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("changed_at", TZ, nullable=False),
        sa.PrimaryKeyConstraint("follower_id", "followee_id", name="pk_follows"),
    )
    op.create_table(
        "blocks",
        sa.Column("blocker_id", UUID, nullable=False),
        sa.Column("blocked_id", UUID, nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("changed_at", TZ, nullable=False),
        sa.PrimaryKeyConstraint("blocker_id", "blocked_id", name="pk_blocks"),
    )
    op.create_index("ix_blocks_blocked_id", "blocks", ["blocked_id"])
    op.create_table(
        "memberships",
        sa.Column("community_id", UUID, nullable=False),
        sa.Column("user_id", UUID, nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("changed_at", TZ, nullable=False),
        sa.PrimaryKeyConstraint("community_id", "user_id", name="pk_memberships"),
    )
    op.create_index("ix_memberships_user_id", "memberships", ["user_id"])
    op.create_table(
        "documents",
        sa.Column("collection", sa.String(32), nullable=False),
        sa.Column("doc_id", UUID, nullable=False),
        sa.Column("version_at", TZ, nullable=False),
        sa.Column("deleted", sa.Boolean(), nullable=False, server_default=sa.text("false")),
        sa.Column("indexed_at", TZ, nullable=False, server_default=sa.text("clock_timestamp()")),
        sa.Column("author_id", UUID, nullable=True),
        sa.Column("community_id", UUID, nullable=True),
        sa.Column("source", postgresql.JSONB(), nullable=True),
        sa.PrimaryKeyConstraint("collection", "doc_id", name="pk_documents"),
    )
    op.create_index("ix_documents_collection_indexed_at", "documents", ["collection", "indexed_at"])
    op.create_index("ix_documents_author_id", "documents", ["author_id"])
    op.create_index("ix_documents_community_id", "documents", ["community_id"])
    op.create_table(
        "search_queries",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("at", TZ, nullable=False, server_default=sa.text("now()")),
        sa.Column("collection", sa.String(32), nullable=False),
        sa.Column("query", sa.Text(), nullable=False),
        sa.Column("found", sa.Integer(), nullable=False),
        sa.Column("latency_ms", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_search_queries"),
    )
    op.create_index("ix_search_queries_at", "search_queries", ["at"])
    op.create_table(
        "reindex_jobs",
        sa.Column("id", UUID, nullable=False),
        sa.Column("collection", sa.String(32), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("new_collection", sa.String(128), nullable=True),
        sa.Column("old_collection", sa.String(128), nullable=True),
        sa.Column("documents", sa.Integer(), nullable=False, server_default=sa.text("0")),
        sa.Column("replayed_events", sa.Integer(), nullable=False, server_default=sa.text("0")),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("started_at", TZ, nullable=False, server_default=sa.text("now()")),
        sa.Column("finished_at", TZ, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_reindex_jobs"),
    )
    create_outbox_tables(op, "search")


def downgrade() -> None:
    drop_outbox_tables(op, "search")
    op.drop_table("reindex_jobs")
    op.drop_index("ix_search_queries_at", table_name="search_queries")
    op.drop_table("search_queries")
    op.drop_index("ix_documents_community_id", table_name="documents")
    op.drop_index("ix_documents_author_id", table_name="documents")
    op.drop_index("ix_documents_collection_indexed_at", table_name="documents")
    op.drop_table("documents")
    op.drop_index("ix_memberships_user_id", table_name="memberships")
    op.drop_table("memberships")
    op.drop_index("ix_blocks_blocked_id", table_name="blocks")
    op.drop_table("blocks")
    op.drop_table("follows")
