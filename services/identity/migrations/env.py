"""Alembic environment of the identity schema (version table identity.alembic_version)."""

from identity.models import SCHEMA, Base
from kit.migrations import run_alembic_env

run_alembic_env(Base.metadata, SCHEMA)
