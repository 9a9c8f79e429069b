"""Alembic wiring: the version table lives in the service's own schema.

A service's ``migrations/env.py`` is just::

    from identity.models import Base
    from kit.migrations import run_alembic_env

    run_alembic_env(Base.metadata, "identity")

and its ``script.py.mako``/``versions/`` are ordinary Alembic. :func:`migrate` upgrades a
database to head from code (service start, tests). The database URL is taken, in order,
from the Alembic config attribute ``database_url`` (set by :func:`migrate`), ``-x url=``,
the ``DATABASE_URL`` environment variable, or ``sqlalchemy.url`` in ``alembic.ini``.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Awaitable
from pathlib import Path
from typing import Any

from alembic import command, context
from alembic.config import Config
from sqlalchemy import MetaData, pool, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from kit.settings import ServiceSettings


def _database_url(config: Config) -> str:
    url = config.attributes.get("database_url")
    if not url:
        url = context.get_x_argument(as_dictionary=True).get("url")
    if not url:
        url = os.environ.get("DATABASE_URL")
    if not url:
        url = config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError(
            "no database URL for migrations: use kit.migrations.migrate(), "
            "-x url=..., DATABASE_URL or sqlalchemy.url"
        )
    if url.startswith("postgresql://"):
        url = "postgresql+asyncpg://" + url.split("://", 1)[1]
    return url


def _ensure_schema(connection: Connection, schema: str) -> None:
    # Checked first: CREATE SCHEMA IF NOT EXISTS still needs CREATE on the database, which
    # a service role that merely owns its existing schema does not have.
    exists = connection.execute(
        text("SELECT 1 FROM pg_namespace WHERE nspname = :s"), {"s": schema}
    ).scalar()
    if not exists:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))


def _run_sync(connection: Connection, target_metadata: MetaData | None, schema: str) -> None:
    _ensure_schema(connection, schema)
    connection.execute(text(f'SET search_path TO "{schema}"'))
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        version_table_schema=schema,
        include_schemas=False,
        compare_type=True,
        compare_server_default=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_async(url: str, target_metadata: MetaData | None, schema: str) -> None:
    engine = create_async_engine(
        url,
        poolclass=pool.NullPool,
        connect_args={"server_settings": {"search_path": schema}},
    )
    try:
        async with engine.connect() as conn:
            await conn.run_sync(_run_sync, target_metadata, schema)
            await conn.commit()
    finally:
        await engine.dispose()


def _run_in_fresh_loop(coro_factory: Any) -> None:
    # env.py may be executed from inside a running event loop (alembic's command API called
    # from async code); asyncio.run cannot nest, so the migration gets its own thread.
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        asyncio.run(coro_factory())
        return
    errors: list[BaseException] = []

    def target() -> None:
        try:
            asyncio.run(coro_factory())
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=target, name="alembic-migrate")
    thread.start()
    thread.join()
    if errors:
        raise errors[0]


def run_alembic_env(target_metadata: MetaData | None, schema: str) -> None:
    """The whole body of a service's ``migrations/env.py``.

    Online mode runs the migrations over an async (asyncpg) engine with ``search_path``
    set to ``schema`` and the ``alembic_version`` table inside ``schema``; the schema is
    created first when missing (and when the role may). Offline mode (``--sql``) emits SQL.
    An existing sync connection passed as ``config.attributes["connection"]`` is used as is.
    """
    config = context.config
    if context.is_offline_mode():
        context.configure(
            url=_database_url(config),
            target_metadata=target_metadata,
            version_table_schema=schema,
            literal_binds=True,
            dialect_opts={"paramstyle": "named"},
        )
        with context.begin_transaction():
            context.run_migrations()
        return
    connection = config.attributes.get("connection")
    if connection is not None:
        _run_sync(connection, target_metadata, schema)
        return
    url = _database_url(config)
    _run_in_fresh_loop(lambda: _run_async(url, target_metadata, schema))


def alembic_config(settings: ServiceSettings, migrations_dir: str | Path) -> Config:
    """An Alembic ``Config`` for ``migrations_dir`` pointed at ``settings.database_url``."""
    cfg = Config()
    cfg.set_main_option("script_location", str(Path(migrations_dir).resolve()))
    cfg.attributes["database_url"] = settings.database_url
    return cfg


def migrate_sync(
    settings: ServiceSettings, migrations_dir: str | Path, revision: str = "head"
) -> None:
    """Upgrade the database to ``revision`` (blocking; for code without an event loop)."""
    command.upgrade(alembic_config(settings, migrations_dir), revision)


def migrate(
    settings: ServiceSettings, migrations_dir: str | Path, revision: str = "head"
) -> Awaitable[None]:
    """Upgrade the database to head.

    Called from async code (a lifespan, a fixture) it starts the upgrade in a worker
    thread at once and returns a future to ``await``; called without a running loop it
    runs to completion before returning (the returned awaitable is already done).
    Raises whatever Alembic raises (bad revision, SQL error).
    """
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        migrate_sync(settings, migrations_dir, revision)
        return _done()
    return loop.run_in_executor(None, migrate_sync, settings, migrations_dir, revision)


async def _noop() -> None:
    return None


class _Done:
    def __await__(self) -> Any:
        return _noop().__await__()


def _done() -> Awaitable[None]:
    return _Done()
