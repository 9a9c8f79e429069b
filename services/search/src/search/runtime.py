"""Process-wide collaborators of the search service, kept on ``app.state.search``."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Annotated

import asyncpg
from fastapi import Depends, Request
from kit.db import ReadPool

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
    _read: ReadPool = field(init=False)

    def __post_init__(self) -> None:
        self._read = ReadPool(self.settings, self.settings.read_pool_size)
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
        """The read pool of the query path (viewer context, statistics)."""
        pool: asyncpg.Pool = await self._read.get()
        return pool

    async def _load_viewer(self, user_id: uuid.UUID | str) -> Viewer:
        return await load_viewer(await self.pg(), user_id)

    async def aclose(self) -> None:
        await self.typesense.aclose()
        await self._read.close()


async def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.search
    return runtime


Rt = Annotated[Runtime, Depends(get_runtime)]
