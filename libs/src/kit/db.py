"""Async SQLAlchemy 2 (asyncpg) bound to the service's schema; one transaction per unit.

``Database(settings)`` owns the engine; every pooled connection has
``search_path=<db_schema>``. ``db.session()`` is the only place a transaction commits:
services add and flush, the request scope (:data:`Session`) or the consumer scope commits.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy import MetaData, event, exc, text
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase

from kit.settings import ServiceSettings

NAMING_CONVENTION: dict[str, str] = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def make_metadata(schema: str) -> MetaData:
    """A ``MetaData`` whose tables live in ``schema``, with stable constraint names."""
    return MetaData(schema=schema, naming_convention=NAMING_CONVENTION)


def make_base(schema: str) -> type[DeclarativeBase]:
    """A declarative base whose metadata uses ``schema``.

    For mypy-friendly models, declare the base yourself with the same metadata::

        class Base(DeclarativeBase):
            metadata = make_metadata("identity")
    """

    class Base(DeclarativeBase):
        metadata = make_metadata(schema)

    return Base


def connect_args(settings: ServiceSettings) -> dict[str, Any]:
    """asyncpg connect args that pin ``search_path`` to the service schema."""
    return {
        "server_settings": {
            "search_path": settings.db_schema,
            "application_name": settings.service_name,
        }
    }


#: A pooled connection idle for longer than this is pinged before it is handed out.
IDLE_PING_AFTER_S = 5.0


def ping_idle_connections(engine: AsyncEngine, idle_after_s: float = IDLE_PING_AFTER_S) -> None:
    """Ping a pooled connection at checkout only when it sat idle over ``idle_after_s``.

    SQLAlchemy's ``pool_pre_ping`` pays a database round trip on every checkout, that
    is on every request. A connection returned to the pool moments ago is as good as
    the ping would prove; one that waited long may have been closed by the server
    (restart, idle timeout), so it is pinged and, when dead, replaced before use
    (the pool retries checkout on ``DisconnectionError``). A connection that dies while
    in use is still detected by the driver, and the pool then discards every older one.
    """

    @event.listens_for(engine.sync_engine, "checkin")
    def _checked_in(dbapi_connection: Any, record: Any) -> None:
        record.info["kit_checked_in_at"] = time.monotonic()

    @event.listens_for(engine.sync_engine, "checkout")
    def _checked_out(dbapi_connection: Any, record: Any, proxy: Any) -> None:
        since = record.info.get("kit_checked_in_at")
        if since is None or time.monotonic() - since < idle_after_s:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except Exception as error:
            raise exc.DisconnectionError(f"idle connection failed its ping: {error}") from error


class Database:
    """The service's engine and session factory.

    Sessions carry ``info={"service": ..., "schema": ...}`` so kit helpers
    (``record_event``) know the event source and NOTIFY channel.
    """

    def __init__(self, settings: ServiceSettings, *, engine: AsyncEngine | None = None) -> None:
        self.settings = settings
        self.schema = settings.db_schema
        self.engine = engine or create_async_engine(
            settings.database_url,
            pool_size=settings.db_pool_size,
            max_overflow=settings.db_max_overflow,
            echo=settings.db_echo,
            connect_args=connect_args(settings),
        )
        if engine is None:
            ping_idle_connections(self.engine)
        self.sessionmaker = async_sessionmaker(
            self.engine,
            expire_on_commit=False,
            info={"service": settings.service_name, "schema": settings.db_schema},
        )

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """One transaction: commits when the block succeeds, rolls back on any error.

        A failing commit raises (after rollback); nothing half-written remains.
        """
        async with self.sessionmaker() as session:
            try:
                yield session
                await session.commit()
            except BaseException:
                await session.rollback()
                raise

    async def ping(self) -> None:
        """Run ``SELECT 1``; raises if the database is unreachable."""
        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    async def dispose(self) -> None:
        await self.engine.dispose()


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """FastAPI dependency: the request's session, one transaction per request.

    Use it through :data:`Session`, whose ``scope="function"`` makes FastAPI close it
    right after the endpoint returns and before the response is sent: the commit happens
    first, and a failing commit becomes a problem response instead of a 2xx for data that
    was never stored. Any exception raised by the endpoint rolls the transaction back.
    """
    db: Database = request.app.state.db
    async with db.session() as session:
        yield session


Session = Annotated[AsyncSession, Depends(get_session, scope="function")]


class ReadPool:
    """A small raw asyncpg pool for the hot read paths' single statements (no ORM, no
    transaction), opened on first use, ``search_path`` pinned to the service schema like
    :class:`Database`'s connections.

    Only single autocommit statements may run on it (no ``SET``, ``LISTEN``, cursors or
    locks), which is why the per-release reset round trip is skipped.
    """

    def __init__(self, settings: ServiceSettings, size: int) -> None:
        self.settings = settings
        self.size = size
        self._pool: Any = None
        self._lock: Any = None

    async def get(self) -> Any:
        """The ``asyncpg.Pool`` (created on the first call)."""
        if self._pool is None:
            import asyncio

            import asyncpg

            self._lock = self._lock or asyncio.Lock()
            async with self._lock:
                if self._pool is None:
                    self._pool = await asyncpg.create_pool(
                        self.settings.asyncpg_dsn,
                        min_size=1,
                        max_size=self.size,
                        reset=_no_reset,
                        server_settings={
                            "search_path": self.settings.db_schema,
                            "application_name": f"{self.settings.service_name}-read",
                        },
                    )
        return self._pool

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None


async def _no_reset(_connection: Any) -> None:
    return None
