"""A post's shareable state: what is cached, returned, and published.

``post_state`` turns a database row into a JSON-ready dict that does not depend on who
reads it; the cache stores exactly this, and readers apply the visibility rules to it.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Protocol

from content.events_common import iso, iso_or_none
from content.models import Media, Post
from content.policy import PostFacts
from content.posts.schemas import AuthorOut, MediaRef, PostOut

State = dict[str, Any]


def media_url(prefix: str, media_id: uuid.UUID) -> str:
    return f"{prefix.rstrip('/')}/{media_id}"


def media_refs(
    post: Post, media: Mapping[uuid.UUID, Media], url_prefix: str
) -> list[dict[str, Any]]:
    refs = []
    for mid in post.media_ids:
        m = media.get(mid)
        if m is None:
            continue
        refs.append(
            {
                "media_id": str(m.id),
                "content_type": m.content_type,
                "width": m.width,
                "height": m.height,
                "url": media_url(url_prefix, m.id),
            }
        )
    return refs


def post_state(
    post: Post,
    community_visibility: str | None,
    media: Mapping[uuid.UUID, Media],
    url_prefix: str,
) -> State:
    return {
        "post_id": str(post.id),
        "author_id": str(post.author_id),
        "community_id": str(post.community_id) if post.community_id else None,
        "community_visibility": community_visibility,
        "kind": post.kind,
        "text": post.text,
        "hashtags": list(post.hashtags),
        "mentions": [str(m) for m in post.mentions],
        "media": media_refs(post, media, url_prefix),
        "visibility": post.visibility,
        "created_at": iso(post.created_at),
        "updated_at": iso(post.updated_at),
        "edited_at": iso_or_none(post.edited_at),
        "reaction_counts": {k: int(v) for k, v in (post.reaction_counts or {}).items() if v},
        "comment_count": post.comment_count,
        "view_count": post.view_count,
        "hot_score": post.hot_score,
        "deleted_at": iso_or_none(post.deleted_at),
    }


EVENT_FIELDS = (
    "post_id", "author_id", "community_id", "community_visibility", "kind", "text",
    "hashtags", "mentions", "media", "visibility", "created_at", "updated_at", "edited_at",
    "reaction_counts", "comment_count",
)  # fmt: skip


def event_data(state: State) -> dict[str, Any]:
    """The ``content.post.created/updated`` data of a post state."""
    return {k: state[k] for k in EVENT_FIELDS}


def facts(state: State) -> PostFacts:
    return PostFacts(
        author_id=uuid.UUID(state["author_id"]),
        visibility=state["visibility"],
        community_id=uuid.UUID(state["community_id"]) if state["community_id"] else None,
        community_visibility=state["community_visibility"],
        deleted_at=datetime.fromisoformat(state["deleted_at"]) if state.get("deleted_at") else None,
    )


def position(state: State) -> tuple[datetime, uuid.UUID]:
    return datetime.fromisoformat(state["created_at"]), uuid.UUID(state["post_id"])


class AuthorFields(Protocol):
    """What a response shows of its author (``models.User`` has these)."""

    @property
    def username(self) -> str: ...
    @property
    def display_name(self) -> str: ...
    @property
    def avatar_url(self) -> str | None: ...
    @property
    def deleted_at(self) -> datetime | None: ...


def to_out(state: State, author: AuthorFields | None) -> PostOut:
    author_id = uuid.UUID(state["author_id"])
    live_author = author is not None and author.deleted_at is None
    return PostOut(
        id=uuid.UUID(state["post_id"]),
        author_id=author_id,
        author=AuthorOut(
            id=author_id,
            username=author.username if live_author and author else None,
            display_name=author.display_name if live_author and author else None,
            avatar_url=author.avatar_url if live_author and author else None,
        ),
        community_id=uuid.UUID(state["community_id"]) if state["community_id"] else None,
        kind=state["kind"],
        text=state["text"],
        hashtags=state["hashtags"],
        mentions=[uuid.UUID(m) for m in state["mentions"]],
        media=[MediaRef(**m) for m in state["media"]],
        visibility=state["visibility"],
        comment_count=state["comment_count"],
        reaction_counts=state["reaction_counts"],
        view_count=state["view_count"],
        hot_score=state["hot_score"],
        created_at=datetime.fromisoformat(state["created_at"]),
        updated_at=datetime.fromisoformat(state["updated_at"]),
        edited_at=datetime.fromisoformat(state["edited_at"]) if state["edited_at"] else None,
    )
