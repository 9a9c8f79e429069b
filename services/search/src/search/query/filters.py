"""Building Typesense ``filter_by`` and ``sort_by`` expressions (plain functions).

Visibility of a post to a viewer, as the filter expresses it:

* the author always sees their own posts;
* otherwise the post's *gate* must be ``open`` or a community the viewer belongs to
  (posts in private communities, and members-only posts, are gated by their community);
* and its *audience* must not be ``followers`` unless the viewer follows the author;
* and nobody sees posts of a user they blocked or who blocked them.

An anonymous viewer sees public posts with an open gate only. Values are always quoted
with backticks, so ids, tags and categories cannot change the expression's structure.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from search.collections import GATE_OPEN, Kind, epoch_ms

Sort = Literal["relevance", "newest", "score"]


@dataclass(frozen=True)
class Viewer:
    """Who is searching, with the read-model facts visibility depends on."""

    user_id: str | None = None
    followees: frozenset[str] = field(default_factory=frozenset)
    communities: frozenset[str] = field(default_factory=frozenset)
    #: Users this viewer blocked or who blocked this viewer.
    blocked: frozenset[str] = field(default_factory=frozenset)

    @property
    def anonymous(self) -> bool:
        return self.user_id is None


def quote(value: str) -> str:
    """A filter value in backticks; backticks inside it are dropped (they cannot be escaped)."""
    return "`" + str(value).replace("`", "") + "`"


def one_of(values: Iterable[str]) -> str:
    """``[`a`,`b`]`` for a non-empty set of values, sorted for stable expressions."""
    return "[" + ",".join(quote(v) for v in sorted(values)) + "]"


def and_all(parts: Sequence[str | None]) -> str:
    """The conjunction of the non-empty ``parts``, each parenthesised ('' for none)."""
    present = [p for p in parts if p]
    if len(present) == 1:
        return present[0]
    return " && ".join(f"({p})" for p in present)


def post_visibility_filter(viewer: Viewer) -> str:
    """The filter that keeps only the posts ``viewer`` may see."""
    if viewer.anonymous:
        return f"audience:=public && gate:={quote(GATE_OPEN)}"
    gates = {GATE_OPEN, *viewer.communities}
    community_ok = f"gate:={one_of(gates)}"
    audience_ok = "audience:!=followers"
    if viewer.followees:
        audience_ok = f"audience:!=followers || author_id:={one_of(viewer.followees)}"
    assert viewer.user_id is not None
    visible = f"author_id:={quote(viewer.user_id)} || (({community_ok}) && ({audience_ok}))"
    if viewer.blocked:
        return f"({visible}) && author_id:!={one_of(viewer.blocked)}"
    return visible


def user_visibility_filter(viewer: Viewer) -> str | None:
    """Users hidden from ``viewer``: those on either side of a block (None: no filter)."""
    if viewer.blocked:
        return f"user_id:!={one_of(viewer.blocked)}"
    return None


def community_visibility_filter(viewer: Viewer) -> str | None:
    """Communities are discoverable by name whatever their visibility (their posts are
    not); communities owned by someone on either side of a block are hidden."""
    if viewer.blocked:
        return f"owner_id:!={one_of(viewer.blocked)}"
    return None


@dataclass(frozen=True)
class PostFilters:
    """What a client may narrow posts by."""

    community_id: str | None = None
    author_id: str | None = None
    tag: str | None = None
    kind: str | None = None
    created_from: datetime | None = None
    created_to: datetime | None = None
    has_media: bool | None = None


def post_filter(filters: PostFilters, viewer: Viewer) -> str:
    """The client's filters and the viewer's visibility rules, combined."""
    parts: list[str | None] = [post_visibility_filter(viewer)]
    if filters.community_id:
        parts.append(f"community_id:={quote(filters.community_id)}")
    if filters.author_id:
        parts.append(f"author_id:={quote(filters.author_id)}")
    if filters.tag:
        parts.append(f"hashtags:={quote(filters.tag)}")
    if filters.kind:
        parts.append(f"kind:={quote(filters.kind)}")
    if filters.has_media is not None:
        parts.append(f"has_media:={'true' if filters.has_media else 'false'}")
    if filters.created_from is not None:
        parts.append(f"created_at:>={epoch_ms(filters.created_from)}")
    if filters.created_to is not None:
        parts.append(f"created_at:<={epoch_ms(filters.created_to)}")
    return and_all(parts)


@dataclass(frozen=True)
class CommunityFilters:
    category: str | None = None
    tag: str | None = None
    visibility: str | None = None


def community_filter(filters: CommunityFilters, viewer: Viewer) -> str:
    parts: list[str | None] = [community_visibility_filter(viewer)]
    if filters.category:
        parts.append(f"category:={quote(filters.category)}")
    if filters.tag:
        parts.append(f"tags:={quote(filters.tag)}")
    if filters.visibility:
        parts.append(f"visibility:={quote(filters.visibility)}")
    return and_all(parts)


def sort_by(kind: Kind, sort: Sort, *, has_query: bool) -> str:
    """The ``sort_by`` for a collection and requested order.

    ``relevance`` without a query text falls back to newest (there is nothing to rank
    by); ``score`` means engagement for posts and size for communities.
    """
    if sort == "newest" or (sort == "relevance" and not has_query):
        if kind == "communities" and sort == "relevance":
            return "member_count:desc,created_at:desc"
        return "created_at:desc"
    if sort == "score":
        if kind == "posts":
            return "score:desc,created_at:desc"
        if kind == "communities":
            return "member_count:desc,_text_match:desc"
    return "_text_match:desc,created_at:desc"
