"""Stored answers to creating POSTs made with an ``Idempotency-Key`` (groups, call rooms;
message sends keep theirs on the message row).

Revision ID: 0002_idempotency_keys
Revises: 0001_initial
Create Date: 2026-11-26
"""

from collections.abc import Sequence

from alembic import op
from kit.idempotency import create_idempotency_table, drop_idempotency_table

revision: str = "0002_idempotency_keys"
down_revision: str | None = "0001_initial"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    create_idempotency_table(op, "messaging")


def downgrade() -> None:
    drop_idempotency_table(op, "messaging")
