"""Alembic environment of the search schema (version table search.alembic_version)."""

from kit.migrations import run_alembic_env
from search.models import SCHEMA, Base

run_alembic_env(Base.metadata, SCHEMA)
