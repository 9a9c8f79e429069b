"""Process-wide collaborators of the search service, kept on ``app.state.search``."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from search.collections import Collections
from search.indexing.service import Indexer
from search.settings import SearchSettings
from search.typesense import Typesense

# One line per Typesense request at INFO would drown the service's own logs.
logging.getLogger("httpx").setLevel(logging.WARNING)


@dataclass
class Runtime:
    settings: SearchSettings
    typesense: Typesense
    collections: Collections
    indexer: Indexer

    @classmethod
    def from_settings(cls, settings: SearchSettings) -> Runtime:
        client = Typesense(
            settings.typesense_url,
            settings.typesense_api_key,
            timeout=settings.typesense_timeout_s,
        )
        collections = Collections(client, settings.collection_prefix)
        return cls(settings, client, collections, Indexer(client, collections))

    async def aclose(self) -> None:
        await self.typesense.aclose()


async def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.search
    return runtime


Rt = Annotated[Runtime, Depends(get_runtime)]
