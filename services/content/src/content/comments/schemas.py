"""Request and response bodies of the comment endpoints."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class CommentCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(max_length=100_000)
    #: Reply to this comment (of the same post); None for a top-level comment.
    parent_id: uuid.UUID | None = None


class CommentUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(max_length=100_000)


class CommentOut(BaseModel):
    id: uuid.UUID
    post_id: uuid.UUID
    author_id: uuid.UUID | None
    parent_id: uuid.UUID | None
    #: Empty for a deleted comment kept as a placeholder because it has replies.
    text: str
    mentions: list[uuid.UUID]
    reply_count: int
    reaction_counts: dict[str, int]
    created_at: datetime
    updated_at: datetime
    edited_at: datetime | None
    deleted: bool = False


class CommentPage(BaseModel):
    items: list[CommentOut]
    next_cursor: str | None = None
    #: The post's live comment count.
    comment_count: int
