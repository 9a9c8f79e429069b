"""Request and response bodies of the post endpoints."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Kind = Literal["post", "reel"]
PostVisibility = Literal["public", "followers", "community"]


class PostCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    #: Arabic or English text; ``#hashtags`` and ``@mentions`` are extracted.
    text: str = Field(default="", max_length=100_000)
    kind: Kind = "post"
    community_id: uuid.UUID | None = None
    #: Default: ``public`` outside a community, ``community`` inside one.
    visibility: PostVisibility | None = None
    media_ids: list[uuid.UUID] = Field(default_factory=list, max_length=50)


class PostUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str | None = Field(default=None, max_length=100_000)
    media_ids: list[uuid.UUID] | None = Field(default=None, max_length=50)


class MediaRef(BaseModel):
    media_id: uuid.UUID
    content_type: str
    width: int | None
    height: int | None
    url: str


class AuthorOut(BaseModel):
    id: uuid.UUID
    username: str | None = None
    display_name: str | None = None
    avatar_url: str | None = None


class PostOut(BaseModel):
    id: uuid.UUID
    author_id: uuid.UUID
    author: AuthorOut
    community_id: uuid.UUID | None
    kind: Kind
    text: str
    hashtags: list[str]
    mentions: list[uuid.UUID]
    media: list[MediaRef]
    visibility: PostVisibility
    comment_count: int
    reaction_counts: dict[str, int]
    view_count: int
    hot_score: float
    created_at: datetime
    updated_at: datetime
    edited_at: datetime | None


class PostPage(BaseModel):
    items: list[PostOut]
    next_cursor: str | None = None
