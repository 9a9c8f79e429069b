"""A digest address is used only once its owner proved it: a pending address and the hash
of the code sent to it.

Revision ID: 0003_digest_address_verification
Revises: 0002_idempotency_keys
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_digest_address_verification"
down_revision: str | None = "0002_idempotency_keys"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.add_column(
        "notification_settings", sa.Column("pending_email", sa.String(320)), schema="messaging"
    )
    op.add_column(
        "notification_settings", sa.Column("email_code_hash", sa.String(64)), schema="messaging"
    )
    op.add_column(
        "notification_settings", sa.Column("email_code_expires_at", TZ), schema="messaging"
    )
    op.add_column(
        "notification_settings",
        sa.Column("email_code_attempts", sa.Integer(), nullable=False, server_default="0"),
        schema="messaging",
    )


def downgrade() -> None:
    for column in ("email_code_attempts", "email_code_expires_at", "email_code_hash"):
        op.drop_column("notification_settings", column, schema="messaging")
    op.drop_column("notification_settings", "pending_email", schema="messaging")
