"""Request and response bodies of the conversation endpoints."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]


class DirectIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    user_id: uuid.UUID


class GroupIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: Title
    member_ids: list[uuid.UUID] = Field(min_length=1, max_length=255)


class TitleIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: Title


class MembersIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    user_ids: list[uuid.UUID] = Field(min_length=1, max_length=255)


class MuteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    muted: bool


class ParticipantOut(BaseModel):
    user_id: uuid.UUID
    role: str
    joined_at: datetime
    #: Read receipt: the newest message this participant has read.
    last_read_message_id: uuid.UUID | None


class ConversationOut(BaseModel):
    id: uuid.UUID
    kind: str
    title: str | None
    participants: list[ParticipantOut]
    created_at: datetime
    updated_at: datetime
    last_message_at: datetime | None
    unread_count: int
    muted: bool


class ConversationSummary(BaseModel):
    id: uuid.UUID
    kind: str
    title: str | None
    created_at: datetime
    last_message_at: datetime | None
    unread_count: int
    muted: bool


class ConversationPage(BaseModel):
    items: list[ConversationSummary]
    next_cursor: str | None = None


class UnreadTotals(BaseModel):
    conversations: int
    messages: int
