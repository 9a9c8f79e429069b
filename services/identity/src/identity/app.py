"""The identity HTTP application.

At startup: migrate the schema to head (a fresh database just works), make
sure an active signing key exists, and run the outbox relay in the background.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from kit.app import create_app as kit_create_app
from kit.db import Database
from kit.migrations import migrate
from kit.outbox import OutboxRelay

from identity.accounts.router import router as accounts_router
from identity.auth.housekeeping import auth_state_pruner
from identity.auth.router import router as auth_router
from identity.graph.router import router as graph_router
from identity.keys.router import router as keys_router
from identity.keys.service import ensure_active_key
from identity.runtime import Runtime
from identity.settings import IdentitySettings

log = logging.getLogger("identity")

MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "migrations"


def migrations_dir(settings: IdentitySettings) -> Path:
    """The Alembic scripts directory: ``settings.migrations_dir`` or the source tree's."""
    return Path(settings.migrations_dir) if settings.migrations_dir else MIGRATIONS_DIR


def create_app(settings: IdentitySettings | None = None) -> FastAPI:
    """The identity FastAPI app (routes under the service's own paths; the gateway
    strips ``/v1/identity``)."""
    settings = settings or IdentitySettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        db: Database = app.state.db
        if settings.migrate_on_start:
            await migrate(settings, migrations_dir(settings))
        async with db.session() as session:
            await ensure_active_key(session, settings)
        runtime = Runtime.from_settings(settings)
        app.state.identity = runtime
        relay: OutboxRelay | None = None
        relay_task: asyncio.Task[None] | None = None
        if settings.run_outbox_relay:
            relay = OutboxRelay(settings, db, housekeeping=[auth_state_pruner(settings)])
            relay_task = asyncio.create_task(relay.run(), name="identity-outbox-relay")
        try:
            yield
        finally:
            if relay is not None and relay_task is not None:
                await relay.stop()
                try:
                    await asyncio.wait_for(relay_task, timeout=10)
                except TimeoutError:
                    relay_task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await relay_task
            await runtime.aclose()

    return kit_create_app(
        settings,
        title="identity",
        routers=[auth_router, accounts_router, graph_router, keys_router],
        lifespan=lifespan,
    )
