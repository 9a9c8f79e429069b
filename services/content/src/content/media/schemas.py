"""Response bodies of the media endpoints."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel


class MediaOut(BaseModel):
    id: uuid.UUID
    content_type: str
    size_bytes: int
    width: int | None
    height: int | None
    url: str
    created_at: datetime
