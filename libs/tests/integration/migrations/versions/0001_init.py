"""Outbox, inbox and a table the test handlers write to.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op
from kit.outbox import create_outbox_tables, drop_outbox_tables

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_outbox_tables(op, "kittest")
    op.create_table(
        "things",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.Text, nullable=False),
        schema="kittest",
    )
    # Checked only at COMMIT: lets a test prove the request commits before it answers.
    op.execute(
        "ALTER TABLE kittest.things ADD CONSTRAINT things_name_unique "
        "UNIQUE (name) DEFERRABLE INITIALLY DEFERRED"
    )


def downgrade() -> None:
    op.drop_table("things", schema="kittest")
    drop_outbox_tables(op, "kittest")
