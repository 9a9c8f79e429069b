"""Response bodies of the graph endpoints."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel


class GraphUser(BaseModel):
    id: uuid.UUID
    username: str
    display_name: str
    avatar_url: str | None
    since: datetime


class GraphPage(BaseModel):
    items: list[GraphUser]
    next_cursor: str | None = None


class FollowOut(BaseModel):
    follower_id: uuid.UUID
    followee_id: uuid.UUID
    following: bool


class BlockOut(BaseModel):
    blocker_id: uuid.UUID
    blocked_id: uuid.UUID
    blocking: bool
