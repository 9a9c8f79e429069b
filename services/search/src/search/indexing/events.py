"""The events search consumes, parsed into the fields it relies on.

Shapes follow ``contracts/schemas/identity`` and the agreed content events. Unknown
fields are ignored; a missing or malformed required field makes the event unusable
(:class:`pydantic.ValidationError`), which the handler turns into a dead letter.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class _Event(BaseModel):
    model_config = ConfigDict(extra="ignore")


class UserProfile(_Event):
    """identity.user.registered / identity.user.updated"""

    user_id: uuid.UUID
    username: str = Field(min_length=1)
    display_name: str = Field(min_length=1)
    bio: str | None = None
    avatar_url: str | None = None
    locale: str = ""
    created_at: datetime
    updated_at: datetime


class UserDeleted(_Event):
    user_id: uuid.UUID
    deleted_at: datetime


class FollowChanged(_Event):
    """identity.follow.created (``created_at``) / identity.follow.removed (``removed_at``)."""

    follower_id: uuid.UUID
    followee_id: uuid.UUID
    created_at: datetime | None = None
    removed_at: datetime | None = None


class BlockChanged(_Event):
    blocker_id: uuid.UUID
    blocked_id: uuid.UUID
    created_at: datetime | None = None
    removed_at: datetime | None = None


class PostState(_Event):
    """content.post.created / content.post.updated (the whole post after the change)."""

    post_id: uuid.UUID
    author_id: uuid.UUID
    community_id: uuid.UUID | None = None
    community_visibility: Literal["public", "private"] | None = None
    kind: Literal["post", "reel"]
    text: str
    hashtags: list[str] = Field(default_factory=list)
    mentions: list[uuid.UUID] = Field(default_factory=list)
    visibility: Literal["public", "followers", "community"]
    created_at: datetime
    updated_at: datetime
    edited_at: datetime | None = None
    reaction_counts: dict[str, int] = Field(default_factory=dict)
    comment_count: int = 0


class PostDeleted(_Event):
    post_id: uuid.UUID
    author_id: uuid.UUID
    community_id: uuid.UUID | None = None
    deleted_at: datetime


class CommunityState(_Event):
    """content.community.created / content.community.updated."""

    community_id: uuid.UUID
    slug: str = Field(min_length=1)
    name: str = Field(min_length=1)
    description: str | None = None
    visibility: Literal["public", "private"]
    category: str | None = None
    tags: list[str] = Field(default_factory=list)
    owner_id: uuid.UUID
    member_count: int = 0
    created_at: datetime
    updated_at: datetime


class MembershipChanged(_Event):
    """content.community.member_joined / content.community.member_left."""

    community_id: uuid.UUID
    user_id: uuid.UUID
    role: Literal["owner", "moderator", "member"] = "member"
    at: datetime
    visibility: Literal["public", "private"] | None = None
