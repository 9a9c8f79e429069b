"""Request and response bodies of the notification endpoints."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class NotificationOut(BaseModel):
    id: uuid.UUID
    type: str
    actor_ids: list[uuid.UUID]
    actor_count: int
    subject_type: str | None
    subject_id: uuid.UUID | None
    summary: str
    created_at: datetime
    updated_at: datetime
    read: bool


class NotificationPage(BaseModel):
    items: list[NotificationOut]
    next_cursor: str | None = None


class UnreadCount(BaseModel):
    unread: int


class MarkedRead(BaseModel):
    marked: int


class PreferencesOut(BaseModel):
    #: Every notification type with its channel: ``in_app``, ``email`` or ``off``.
    channels: dict[str, str]
    #: Where email digests go (None: no digests). Only a confirmed address is used.
    email: str | None
    #: An address waiting for its confirmation code (mailed to it), if any.
    pending_email: str | None = None


class ConfirmEmailIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str = Field(pattern=r"^[0-9]{6}$", description="the 6-digit code mailed to the address")


class PreferencesIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    channels: dict[str, str] | None = Field(
        default=None, description="type -> in_app | email | off; types left out are unchanged"
    )
    email: str | None = Field(
        default=None,
        max_length=320,
        description="digest address: a code is mailed to it, and it is used once confirmed "
        "(POST /notifications/preferences/email/confirm); null removes it",
    )
