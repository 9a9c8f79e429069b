"""Process-wide collaborators of the search service, kept on ``app.state.search``."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field
from typing import Annotated

import asyncpg
from fastapi import Depends, Request

from search.collections import Collections
from search.indexing.service import Indexer
from search.query.filters import Viewer
from search.query.repository import ViewerCache, load_viewer
from search.settings import SearchSettings
from search.stats.service import StatsRecorder
from search.typesense import Typesense


@dataclass
class Runtime:
    settings: SearchSettings
    typesense: Typesense
    collections: Collections
    indexer: Indexer
    viewers: ViewerCache = field(init=False)
    stats: StatsRecorder = field(init=False)
    _pg: asyncpg.Pool | None = field(default=None, init=False)
    _pg_lock: asyncio.Lock = field(default_factory=asyncio.Lock, init=False)

    def __post_init__(self) -> None:
        self.viewers = ViewerCache(self._load_viewer, ttl_s=self.settings.viewer_cache_ttl_s)
        self.indexer.on_graph_change = self.viewers.invalidate
        self.stats = StatsRecorder(
            self.pg,
            interval_s=self.settings.stats_flush_interval_s,
            max_buffer=self.settings.stats_buffer_max,
        )

    @classmethod
    def from_settings(cls, settings: SearchSettings) -> Runtime:
        client = Typesense(
            settings.typesense_url,
            settings.typesense_api_key,
            timeout=settings.typesense_timeout_s,
        )
        collections = Collections(client, settings.collection_prefix)
        return cls(settings, client, collections, Indexer(client, collections))

    async def pg(self) -> asyncpg.Pool:
        """The read pool for the query path (``search_path`` pinned to the service
        schema like kit.db's), created on first use."""
        if self._pg is None:
            async with self._pg_lock:
                if self._pg is None:
                    self._pg = await asyncpg.create_pool(
                        self.settings.asyncpg_dsn,
                        min_size=1,
                        max_size=self.settings.read_pool_size,
                        # Only single autocommit statements run here (no SET, LISTEN,
                        # cursors or locks): the per-release reset would reset nothing.
                        reset=_no_reset,
                        server_settings={
                            "search_path": self.settings.db_schema,
                            "application_name": f"{self.settings.service_name}-read",
                        },
                    )
        return self._pg

    async def _load_viewer(self, user_id: uuid.UUID | str) -> Viewer:
        return await load_viewer(await self.pg(), user_id)

    async def aclose(self) -> None:
        await self.typesense.aclose()
        if self._pg is not None:
            await self._pg.close()


async def _no_reset(_connection: asyncpg.Connection) -> None:
    return None


async def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.search
    return runtime


Rt = Annotated[Runtime, Depends(get_runtime)]
