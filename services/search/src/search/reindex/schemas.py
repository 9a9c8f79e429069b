"""Reindex requests and job state."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict


class ReindexRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    collection: Literal["users", "posts", "communities"]
    #: ``backfill``: from the read model; ``replay``: first re-read every topic from the
    #: beginning into the read model, then backfill.
    source: Literal["backfill", "replay"] = "backfill"


class ReindexJobOut(BaseModel):
    id: uuid.UUID
    collection: str
    source: str
    status: Literal["running", "done", "failed"]
    new_collection: str | None = None
    old_collection: str | None = None
    documents: int = 0
    replayed_events: int = 0
    error: str | None = None
    started_at: datetime
    finished_at: datetime | None = None
