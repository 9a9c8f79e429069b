"""Request and response bodies of the message endpoints."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field, StringConstraints

ContentType = Annotated[str, StringConstraints(pattern=r"^[a-z]+/[A-Za-z0-9.+-]+$", max_length=100)]


class AttachmentIn(BaseModel):
    """Media already uploaded elsewhere (content's media objects), by reference."""

    model_config = ConfigDict(extra="forbid")

    media_id: uuid.UUID
    content_type: ContentType
    url: AnyHttpUrl = Field(description="absolute http(s) URL of the media")


class AttachmentOut(BaseModel):
    media_id: uuid.UUID
    content_type: str
    url: str


class SendIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(default="", description="may be empty when there are attachments")
    attachments: list[AttachmentIn] = Field(default_factory=list, max_length=10)
    reply_to_id: uuid.UUID | None = None


class EditIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str


class ReadIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    message_id: uuid.UUID


class MessageOut(BaseModel):
    id: uuid.UUID
    conversation_id: uuid.UUID
    seq: int
    sender_id: uuid.UUID
    text: str
    reply_to_id: uuid.UUID | None
    attachments: list[AttachmentOut]
    created_at: datetime
    edited_at: datetime | None
    deleted: bool


class MessagePage(BaseModel):
    items: list[MessageOut]
    next_cursor: str | None = None


class ReadOut(BaseModel):
    conversation_id: uuid.UUID
    last_read_message_id: uuid.UUID | None
    unread_count: int
