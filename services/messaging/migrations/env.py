"""Alembic environment of the messaging schema (version table messaging.alembic_version)."""

from kit.migrations import run_alembic_env
from messaging.models import SCHEMA, Base

run_alembic_env(Base.metadata, SCHEMA)
