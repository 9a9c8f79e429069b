"""Request and response bodies of the community endpoints."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

Slug = Annotated[
    str,
    StringConstraints(strip_whitespace=True, to_lower=True, pattern=r"^[a-z0-9][a-z0-9_-]{2,63}$"),
]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
Description = Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)]
Category = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
Tag = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=50)]
Visibility = Literal["public", "private"]
Role = Literal["owner", "moderator", "member"]


def _clean_tags(tags: list[str]) -> list[str]:
    from content.text import normalize_hashtag

    out: list[str] = []
    for tag in tags:
        norm = normalize_hashtag(tag)
        if norm and norm not in out:
            out.append(norm)
    return out


class CommunityCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    slug: Slug
    name: Name
    description: Description = ""
    visibility: Visibility = "public"
    category: Category | None = None
    tags: list[Tag] = Field(default_factory=list, max_length=20)

    _tags = field_validator("tags")(_clean_tags)


class CommunityUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name | None = None
    description: Description | None = None
    visibility: Visibility | None = None
    category: Category | None = None
    tags: list[Tag] | None = Field(default=None, max_length=20)

    @field_validator("tags")
    @classmethod
    def _tags(cls, tags: list[str] | None) -> list[str] | None:
        return None if tags is None else _clean_tags(tags)


class CommunityOut(BaseModel):
    id: uuid.UUID
    slug: str
    name: str
    description: str
    visibility: Visibility
    category: str | None
    tags: list[str]
    owner_id: uuid.UUID
    member_count: int
    created_at: datetime
    updated_at: datetime
    #: The caller's role, or None when they are not a member (or anonymous).
    my_role: Role | None = None


class CommunityPage(BaseModel):
    items: list[CommunityOut]
    next_cursor: str | None = None


class MemberOut(BaseModel):
    user_id: uuid.UUID
    role: Role
    joined_at: datetime


class MemberPage(BaseModel):
    items: list[MemberOut]
    next_cursor: str | None = None


class MemberRole(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: Literal["moderator", "member"] = "member"


class MembershipOut(BaseModel):
    community_id: uuid.UUID
    user_id: uuid.UUID
    role: Role | None
    member: bool
