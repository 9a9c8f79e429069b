"""The content HTTP application.

At startup: migrate the schema to head, then run the outbox relay, the identity and
timeline consumers and the view flusher in the background (each can be switched off
when it runs as its own process).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from kit.app import create_app as kit_create_app
from kit.db import Database
from kit.migrations import migrate

from content.comments.router import router as comments_router
from content.communities.router import router as communities_router
from content.media.router import router as media_router
from content.posts.router import router as posts_router
from content.reactions.router import router as reactions_router
from content.runtime import Runtime
from content.settings import ContentSettings
from content.timelines.router import router as timelines_router
from content.workers import WorkerSet, serve_workers

log = logging.getLogger("content")

MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "migrations"


def migrations_dir(settings: ContentSettings) -> Path:
    """The Alembic scripts directory: ``settings.migrations_dir`` or the source tree's."""
    return Path(settings.migrations_dir) if settings.migrations_dir else MIGRATIONS_DIR


def create_app(settings: ContentSettings | None = None) -> FastAPI:
    """The content FastAPI app (the gateway strips ``/v1/content``)."""
    settings = settings or ContentSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        db: Database = app.state.db
        if settings.migrate_on_start:
            await migrate(settings, migrations_dir(settings))
        runtime = Runtime.from_settings(settings)
        app.state.content = runtime
        workers = WorkerSet(serve_workers(runtime, db))
        workers.start()
        try:
            yield
        finally:
            await workers.stop()
            await runtime.aclose()

    return kit_create_app(
        settings,
        title="content",
        routers=[
            communities_router,
            posts_router,
            comments_router,
            reactions_router,
            media_router,
            timelines_router,
        ],
        lifespan=lifespan,
    )
