"""Alembic environment of the content schema (version table content.alembic_version)."""

from content.models import SCHEMA, Base
from kit.migrations import run_alembic_env

run_alembic_env(Base.metadata, SCHEMA)
