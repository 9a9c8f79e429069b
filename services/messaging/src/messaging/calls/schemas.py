"""Request and response bodies of the call endpoints."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints


class RoomIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: Annotated[str, StringConstraints(strip_whitespace=True, max_length=100)] | None = None
    ttl_s: int | None = Field(
        default=None, ge=60, description="lifetime in seconds (default one hour)"
    )


class RoomOut(BaseModel):
    id: uuid.UUID
    owner_id: uuid.UUID
    title: str | None
    created_at: datetime
    expires_at: datetime
    closed_at: datetime | None
    close_reason: str | None
    open: bool


class TokenIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    user_id: uuid.UUID


class TokenOut(BaseModel):
    room_id: uuid.UUID
    user_id: uuid.UUID
    #: The single-use join token, shown once; only its SHA-256 is kept.
    token: str
    expires_at: datetime
