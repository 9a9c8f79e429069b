"""Search API responses."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, Field

T = TypeVar("T")


def from_ms(value: int | None) -> datetime | None:
    if not value:
        return None
    return datetime.fromtimestamp(value / 1000, tz=UTC)


class FacetValue(BaseModel):
    value: str
    count: int


class PostHit(BaseModel):
    id: str
    author_id: str
    community_id: str | None = None
    kind: str
    text: str
    hashtags: list[str] = Field(default_factory=list)
    mentions: list[str] = Field(default_factory=list)
    media: list[dict[str, Any]] = Field(default_factory=list)
    visibility: str
    reaction_count: int = 0
    comment_count: int = 0
    score: float = 0.0
    created_at: datetime | None = None
    updated_at: datetime | None = None
    edited_at: datetime | None = None
    highlight: dict[str, str] = Field(
        default_factory=dict,
        description="Field -> the original text, HTML-escaped, matched words in <mark>.",
    )


class UserHit(BaseModel):
    id: str
    username: str
    display_name: str
    bio: str | None = None
    avatar_url: str | None = None
    locale: str | None = None
    highlight: dict[str, str] = Field(default_factory=dict)


class CommunityHit(BaseModel):
    id: str
    slug: str
    name: str
    description: str | None = None
    visibility: str
    category: str | None = None
    tags: list[str] = Field(default_factory=list)
    member_count: int = 0
    created_at: datetime | None = None
    highlight: dict[str, str] = Field(default_factory=dict)


class SearchPage(BaseModel, Generic[T]):
    """One page of hits. ``next_cursor`` continues the same query; ``found`` counts every
    visible match; ``facets`` count values over all visible matches."""

    items: list[T]
    next_cursor: str | None = None
    found: int
    query: str = Field(description="The query as matched (normalised).")
    facets: dict[str, list[FacetValue]] = Field(default_factory=dict)
    took_ms: float


class AllResults(BaseModel):
    query: str
    posts: SearchPage[PostHit] | None = None
    users: SearchPage[UserHit] | None = None
    communities: SearchPage[CommunityHit] | None = None
    took_ms: float


class UserSuggestion(BaseModel):
    id: str
    username: str
    display_name: str


class CommunitySuggestion(BaseModel):
    id: str
    slug: str
    name: str


class Suggestions(BaseModel):
    query: str
    users: list[UserSuggestion]
    communities: list[CommunitySuggestion]
    hashtags: list[FacetValue]
    took_ms: float
