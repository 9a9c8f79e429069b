"""Alembic environment of the kit's own integration tests (schema ``kittest``)."""

from kit.migrations import run_alembic_env

run_alembic_env(None, "kittest")
