"""The Typesense collections (users, posts, communities): schemas, documents, aliases.

Every logical collection is an alias (``<prefix>posts``) pointing at one version
(``<prefix>posts_v3``). Writers and readers only ever name the alias; a reindex builds
the next version beside it and moves the alias in one server-side step.

Document builders are plain functions from an event's data (the source state kept in
``documents``) to the Typesense document. Each text field is indexed twice: as written
(returned to clients and used for highlighting) and normalised by :mod:`search.arabic`
(the ``*_norm`` fields queries run against).
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from search.arabic import normalise_all, search_form
from search.typesense import Typesense, TypesenseNotFound

Kind = Literal["users", "posts", "communities"]
KINDS: tuple[Kind, ...] = ("users", "posts", "communities")

#: The visibility gate of a post nobody but its author may see (visibility
#: ``community`` without a community).
GATE_OPEN = "open"
GATE_AUTHOR_ONLY = "author-only"

FIELDS: dict[Kind, list[dict[str, Any]]] = {
    "users": [
        {"name": "user_id", "type": "string"},
        {"name": "username", "type": "string", "index": False, "optional": True},
        {"name": "username_norm", "type": "string"},
        {"name": "display_name", "type": "string", "index": False, "optional": True},
        {"name": "display_name_norm", "type": "string"},
        {"name": "bio", "type": "string", "index": False, "optional": True},
        {"name": "bio_norm", "type": "string"},
        {"name": "locale", "type": "string", "facet": True},
        {"name": "created_at", "type": "int64"},
        {"name": "updated_at", "type": "int64"},
    ],
    "posts": [
        {"name": "post_id", "type": "string"},
        {"name": "author_id", "type": "string", "facet": True},
        {"name": "community_id", "type": "string", "facet": True, "optional": True},
        {"name": "kind", "type": "string", "facet": True},
        {"name": "text", "type": "string", "index": False, "optional": True},
        {"name": "text_norm", "type": "string"},
        {"name": "hashtags", "type": "string[]", "facet": True},
        {"name": "audience", "type": "string", "facet": True},
        {"name": "gate", "type": "string"},
        {"name": "has_media", "type": "bool", "facet": True},
        {"name": "reaction_count", "type": "int32"},
        {"name": "comment_count", "type": "int32"},
        {"name": "score", "type": "float"},
        {"name": "created_at", "type": "int64"},
        {"name": "updated_at", "type": "int64"},
    ],
    "communities": [
        {"name": "community_id", "type": "string"},
        {"name": "slug", "type": "string"},
        {"name": "name", "type": "string", "index": False, "optional": True},
        {"name": "name_norm", "type": "string"},
        {"name": "description", "type": "string", "index": False, "optional": True},
        {"name": "description_norm", "type": "string"},
        {"name": "visibility", "type": "string", "facet": True},
        {"name": "category", "type": "string", "facet": True, "optional": True},
        {"name": "tags", "type": "string[]", "facet": True},
        {"name": "owner_id", "type": "string"},
        {"name": "member_count", "type": "int32"},
        {"name": "created_at", "type": "int64"},
        {"name": "updated_at", "type": "int64"},
    ],
}

DEFAULT_SORT_FIELD: dict[Kind, str] = {
    "users": "created_at",
    "posts": "created_at",
    "communities": "member_count",
}

#: Fields a query text is matched against, most important first.
QUERY_BY: dict[Kind, str] = {
    "users": "username_norm,display_name_norm,bio_norm",
    "posts": "text_norm,hashtags",
    "communities": "name_norm,tags,description_norm",
}
QUERY_WEIGHTS: dict[Kind, str] = {
    "users": "3,3,1",
    "posts": "2,1",
    "communities": "3,2,1",
}
#: ``*_norm`` field -> the original field it was derived from (for highlights).
ORIGINAL_OF = {
    "text_norm": "text",
    "username_norm": "username",
    "display_name_norm": "display_name",
    "bio_norm": "bio",
    "name_norm": "name",
    "description_norm": "description",
}


def collection_schema(kind: Kind, name: str) -> dict[str, Any]:
    """The Typesense schema of a new version ``name`` of ``kind``."""
    return {
        "name": name,
        "fields": FIELDS[kind],
        "default_sorting_field": DEFAULT_SORT_FIELD[kind],
    }


def epoch_ms(value: str | datetime | None) -> int:
    """RFC 3339 text or datetime as milliseconds since the epoch (0 for None)."""
    if value is None:
        return 0
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return int(value.timestamp() * 1000)


def user_document(source: Mapping[str, Any]) -> dict[str, Any]:
    """The users-collection document of an ``identity.user.*`` profile."""
    bio = source.get("bio") or ""
    return {
        "id": source["user_id"],
        "user_id": source["user_id"],
        "username": source["username"],
        "username_norm": search_form(source["username"]),
        "display_name": source["display_name"],
        "display_name_norm": search_form(source["display_name"]),
        "bio": bio,
        "bio_norm": search_form(bio),
        "avatar_url": source.get("avatar_url"),
        "locale": source.get("locale") or "",
        "created_at": epoch_ms(source.get("created_at")),
        "updated_at": epoch_ms(source.get("updated_at")),
    }


def post_gate(visibility: str, community_id: str | None, community_visibility: str | None) -> str:
    """Who may see a post, as far as communities go.

    ``open``: anyone the audience rule allows; a community id: members of that
    community only (a post in a private community, or a members-only post);
    ``author-only``: a members-only post outside any community.
    """
    if community_id and (community_visibility == "private" or visibility == "community"):
        return community_id
    if visibility == "community":
        return GATE_AUTHOR_ONLY
    return GATE_OPEN


def engagement_score(reaction_counts: Mapping[str, int] | None, comment_count: int) -> float:
    """The ``score`` sort key until a scoring service provides one: reactions + 2·comments."""
    reactions = sum(max(0, int(v)) for v in (reaction_counts or {}).values())
    return float(reactions + 2 * max(0, comment_count))


def post_document(
    source: Mapping[str, Any], community_visibility: str | None = None
) -> dict[str, Any]:
    """The posts-collection document of a ``content.post.created/updated`` payload.

    ``community_visibility`` (what the search read model knows of the post's community)
    wins over the value carried by the event, so a community turned private gates posts
    published before the change too.
    """
    community_id = source.get("community_id")
    visibility = community_visibility or source.get("community_visibility")
    reactions = source.get("reaction_counts") or {}
    comments = int(source.get("comment_count") or 0)
    document: dict[str, Any] = {
        "id": source["post_id"],
        "post_id": source["post_id"],
        "author_id": source["author_id"],
        "kind": source.get("kind") or "post",
        "text": source.get("text") or "",
        "text_norm": search_form(source.get("text")),
        "hashtags": normalise_all(source.get("hashtags")),
        "mentions": list(source.get("mentions") or []),
        "media": list(source.get("media") or []),
        "audience": source["visibility"],
        "gate": post_gate(source["visibility"], community_id, visibility),
        "has_media": bool(source.get("media")),
        "reaction_count": sum(max(0, int(v)) for v in reactions.values()),
        "comment_count": comments,
        "score": engagement_score(reactions, comments),
        "created_at": epoch_ms(source.get("created_at")),
        "updated_at": epoch_ms(source.get("updated_at")),
        "edited_at": epoch_ms(source.get("edited_at")) or None,
    }
    if community_id:
        document["community_id"] = community_id
    return document


def community_document(source: Mapping[str, Any]) -> dict[str, Any]:
    """The communities-collection document of a ``content.community.created/updated``."""
    description = source.get("description") or ""
    document: dict[str, Any] = {
        "id": source["community_id"],
        "community_id": source["community_id"],
        "slug": source["slug"],
        "name": source["name"],
        "name_norm": search_form(source["name"]),
        "description": description,
        "description_norm": search_form(description),
        "visibility": source["visibility"],
        "tags": normalise_all(source.get("tags")),
        "owner_id": source["owner_id"],
        "member_count": int(source.get("member_count") or 0),
        "created_at": epoch_ms(source.get("created_at")),
        "updated_at": epoch_ms(source.get("updated_at")),
    }
    if source.get("category"):
        document["category"] = str(source["category"])
    return document


@dataclass(frozen=True)
class Collections:
    """Names and alias management of the three collections under one prefix."""

    client: Typesense
    prefix: str = ""

    def alias(self, kind: Kind) -> str:
        return f"{self.prefix}{kind}"

    def version_name(self, kind: Kind, version: int) -> str:
        return f"{self.prefix}{kind}_v{version}"

    async def versions(self, kind: Kind) -> list[tuple[int, str]]:
        """Existing versions of ``kind`` as (number, collection name), oldest first."""
        pattern = re.compile(rf"^{re.escape(self.prefix)}{kind}_v(\d+)$")
        found = []
        for collection in await self.client.list_collections():
            match = pattern.match(collection.get("name", ""))
            if match:
                found.append((int(match.group(1)), collection["name"]))
        return sorted(found)

    async def create_next_version(self, kind: Kind) -> str:
        """Create an empty collection ``<kind>_v<max+1>`` and return its name."""
        versions = await self.versions(kind)
        number = versions[-1][0] + 1 if versions else 1
        name = self.version_name(kind, number)
        await self.client.create_collection(collection_schema(kind, name))
        return name

    async def current(self, kind: Kind) -> str | None:
        """The collection the alias points at (None without an alias)."""
        return await self.client.get_alias(self.alias(kind))

    async def ensure(self, kind: Kind) -> str:
        """Make sure the alias exists and points at an existing collection; return it."""
        target = await self.current(kind)
        if target is not None:
            try:
                await self.client.get_collection(target)
                return target
            except TypesenseNotFound:
                pass
        name = await self.create_next_version(kind)
        await self.client.upsert_alias(self.alias(kind), name)
        return name

    async def ensure_all(self) -> None:
        for kind in KINDS:
            await self.ensure(kind)

    async def drop_all(self) -> None:
        """Remove every alias and version under this prefix (tests, tear-down)."""
        for kind in KINDS:
            if await self.current(kind) is not None:
                await self.client.delete_alias(self.alias(kind))
            for _, name in await self.versions(kind):
                with contextlib.suppress(TypesenseNotFound):
                    await self.client.delete_collection(name)
