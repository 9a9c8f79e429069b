"""Running searches: visibility-filtered Typesense queries, highlights, cursors, stats.

Every query text is normalised (:mod:`search.arabic`) and matched against the
normalised fields. Results carry highlights on the original text (see
:mod:`search.query.highlight`). Pages are addressed by signed cursors bound to the
query they belong to; a cursor from another query, or an altered one, is a 400.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson
from kit.errors import BadRequest, ServiceUnavailable
from kit.pagination import decode_cursor, encode_cursor

from search.arabic import search_form
from search.collections import ORIGINAL_OF, QUERY_BY, QUERY_WEIGHTS, Kind
from search.query import filters as flt
from search.query.highlight import highlight
from search.query.schemas import from_ms
from search.runtime import Runtime
from search.typesense import TypesenseError, TypesenseNotFound, TypesenseUnavailable

POST_FACETS = "hashtags,kind,community_id,author_id,has_media"
COMMUNITY_FACETS = "category,tags,visibility"
#: Typesense refuses to page past this many hits; cursors stop there.
MAX_DEPTH = 1000
SNIPPET_WORDS = 40
#: Stored fields no response uses (normalised copies, internal gates): not sent back.
EXCLUDED_FIELDS: dict[str, str] = {
    "posts": "text_norm,gate,post_id",
    "users": "username_norm,display_name_norm,bio_norm,user_id",
    "communities": "name_norm,description_norm,community_id,owner_id",
}


@dataclass(frozen=True)
class Request:
    """One search of one collection."""

    kind: Kind
    q: str
    filter_by: str
    sort: flt.Sort
    limit: int
    cursor: str | None
    facets: str | None = None
    #: Client-visible parameters the cursor is bound to (filters, sort).
    binding: Mapping[str, Any] | None = None


def query_text(raw: str | None) -> str:
    """The query in :func:`search.arabic.search_form`, or ``*`` (match everything) when
    nothing searchable is left."""
    norm = search_form(raw)
    return norm if norm.strip("*") else "*"


def _fingerprint(req: Request, q: str) -> str:
    payload = orjson.dumps(
        {"k": req.kind, "q": q, "s": req.sort, "b": dict(req.binding or {})},
        option=orjson.OPT_SORT_KEYS,
        default=str,
    )
    return hashlib.sha256(payload).hexdigest()[:16]


def page_of(req: Request, q: str) -> int:
    """The page a request asks for: 1 without a cursor; 400 for a foreign or altered one."""
    if not req.cursor:
        return 1
    payload = decode_cursor(req.cursor)
    page = payload.get("p")
    if payload.get("f") != _fingerprint(req, q) or not isinstance(page, int) or page < 2:
        raise BadRequest(
            "The cursor belongs to a different search; repeat the search without it.",
            title="Invalid cursor",
        )
    return page


def next_cursor(req: Request, q: str, page: int, found: int) -> str | None:
    if page * req.limit >= min(found, MAX_DEPTH):
        return None
    return encode_cursor({"p": page + 1, "f": _fingerprint(req, q)})


def is_mostly_arabic(text: str) -> bool:
    """More Arabic letters than Latin ones."""
    arabic = sum(1 for ch in text if "\u0600" <= ch <= "\u06ff")
    latin = sum(1 for ch in text if ch.isascii() and ch.isalpha())
    return arabic > latin


def typo_lengths(q: str, settings: Any) -> dict[str, int]:
    """``min_len_1typo``/``min_len_2typo`` for the script the query is written in."""
    if is_mostly_arabic(q):
        return {
            "min_len_1typo": settings.arabic_min_len_1typo,
            "min_len_2typo": settings.arabic_min_len_2typo,
        }
    return {"min_len_1typo": settings.min_len_1typo, "min_len_2typo": settings.min_len_2typo}


def search_params(req: Request, q: str, page: int, settings: Any) -> dict[str, Any]:
    """The Typesense search parameters of ``req``."""
    params: dict[str, Any] = {
        "collection": None,
        "q": q,
        "query_by": QUERY_BY[req.kind],
        "query_by_weights": QUERY_WEIGHTS[req.kind],
        "sort_by": flt.sort_by(req.kind, req.sort, has_query=q != "*"),
        "page": page,
        "per_page": req.limit,
        "num_typos": 2,
        **typo_lengths(q, settings),
        "drop_tokens_threshold": settings.drop_tokens_threshold,
        "typo_tokens_threshold": 1,
        "prefix": True,
        # Only the matched tokens are used (highlights are marked on the original
        # text, see _highlights); full-field highlighting would be wasted work.
        "highlight_fields": QUERY_BY[req.kind],
    }
    if excluded := EXCLUDED_FIELDS.get(req.kind):
        params["exclude_fields"] = excluded
    if req.filter_by:
        params["filter_by"] = req.filter_by
    if req.facets:
        params["facet_by"] = req.facets
        params["max_facet_values"] = 10
    return params


def _highlights(hit: Mapping[str, Any]) -> dict[str, str]:
    document = hit.get("document", {})
    out: dict[str, str] = {}
    for entry in hit.get("highlights") or []:
        field = entry.get("field", "")
        original_field = ORIGINAL_OF.get(field)
        tokens = entry.get("matched_tokens") or []
        if original_field:
            marked = highlight(
                str(document.get(original_field) or ""), tokens, max_words=SNIPPET_WORDS
            )
            if marked:
                out[original_field] = marked
        elif field in ("hashtags", "tags"):
            values = entry.get("values") or []
            if isinstance(values, list) and values:
                out[field] = ", ".join(str(v) for v in values)
    return out


def _iso(ms: Any) -> str | None:
    """Epoch milliseconds as the RFC 3339 UTC text the response models produce."""
    moment = from_ms(ms)
    return None if moment is None else moment.isoformat().replace("+00:00", "Z")


# Hits are built as JSON-ready dicts in the shape of the response models
# (:mod:`search.query.schemas`, which document the API and are checked against these
# builders in the unit tests): validating ten models per page only to serialise them
# again cost more than the rest of the response.


def post_hit(hit: Mapping[str, Any]) -> dict[str, Any]:
    d = hit["document"]
    return {
        "id": d["id"],
        "author_id": d["author_id"],
        "community_id": d.get("community_id"),
        "kind": d["kind"],
        "text": d.get("text") or "",
        "hashtags": d.get("hashtags") or [],
        "mentions": d.get("mentions") or [],
        "media": d.get("media") or [],
        "visibility": d["audience"],
        "reaction_count": int(d.get("reaction_count") or 0),
        "comment_count": int(d.get("comment_count") or 0),
        "score": float(d.get("score") or 0.0),
        "created_at": _iso(d.get("created_at")),
        "updated_at": _iso(d.get("updated_at")),
        "edited_at": _iso(d.get("edited_at")),
        "highlight": _highlights(hit),
    }


def user_hit(hit: Mapping[str, Any]) -> dict[str, Any]:
    d = hit["document"]
    return {
        "id": d["id"],
        "username": d.get("username") or "",
        "display_name": d.get("display_name") or "",
        "bio": d.get("bio") or None,
        "avatar_url": d.get("avatar_url"),
        "locale": d.get("locale") or None,
        "highlight": _highlights(hit),
    }


def community_hit(hit: Mapping[str, Any]) -> dict[str, Any]:
    d = hit["document"]
    return {
        "id": d["id"],
        "slug": d.get("slug") or "",
        "name": d.get("name") or "",
        "description": d.get("description") or None,
        "visibility": d.get("visibility") or "public",
        "category": d.get("category"),
        "tags": d.get("tags") or [],
        "member_count": int(d.get("member_count") or 0),
        "created_at": _iso(d.get("created_at")),
        "highlight": _highlights(hit),
    }


HIT_BUILDERS = {"posts": post_hit, "users": user_hit, "communities": community_hit}


def facets_of(result: Mapping[str, Any]) -> dict[str, list[dict[str, Any]]]:
    return {
        facet["field_name"]: [
            {"value": str(c["value"]), "count": int(c["count"])} for c in facet["counts"]
        ]
        for facet in result.get("facet_counts") or []
    }


class Searcher:
    """Runs searches for one request against the collection aliases."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    async def _multi(self, searches: list[dict[str, Any]]) -> list[dict[str, Any]]:
        # A reindex drops the old collection right after moving the alias; a query that
        # resolved the alias just before may see it vanish: ask once more.
        for attempt in (1, 2):
            try:
                return await self.runtime.typesense.multi_search(searches)
            except TypesenseNotFound:
                if attempt == 2:
                    raise ServiceUnavailable("The search index is being rebuilt; retry.") from None
            except TypesenseUnavailable:
                raise ServiceUnavailable("Search is temporarily unavailable.") from None
            except TypesenseError as exc:
                raise BadRequest(f"The search could not be run: {exc.message}") from None
        raise AssertionError("unreachable")

    def _params(self, req: Request, q: str, page: int) -> dict[str, Any]:
        params = search_params(req, q, page, self.runtime.settings)
        params["collection"] = self.runtime.collections.alias(req.kind)
        return params

    async def search(self, reqs: list[Request]) -> list[tuple[dict[str, Any], float]]:
        """Run ``reqs`` in one round trip; each page (a :class:`SearchPage` as a dict)
        with the time it took (seconds)."""
        started = time.perf_counter()
        prepared = []
        for req in reqs:
            q = query_text(req.q)
            prepared.append((req, q, page_of(req, q)))
        results = await self._multi([self._params(r, q, p) for r, q, p in prepared])
        took = time.perf_counter() - started
        pages: list[tuple[dict[str, Any], float]] = []
        for (req, q, page), result in zip(prepared, results, strict=True):
            build = HIT_BUILDERS[req.kind]
            found = int(result.get("found", 0))
            pages.append(
                (
                    {
                        "items": [build(hit) for hit in result.get("hits", [])],
                        "next_cursor": next_cursor(req, q, page, found),
                        "found": found,
                        "query": "" if q == "*" else q,
                        "facets": facets_of(result),
                        "took_ms": round(took * 1000, 2),
                    },
                    took,
                )
            )
        return pages

    async def suggest(self, prefix: str, viewer: flt.Viewer, limit: int) -> dict[str, Any]:
        """Users, communities and hashtags starting with ``prefix`` (visible ones only),
        as a :class:`Suggestions` dict."""
        started = time.perf_counter()
        q = query_text(prefix)
        if q == "*":
            raise BadRequest("Give at least one letter or digit to complete.")
        tag_prefix = q.split(" ")[-1].lstrip("#")
        aliases = self.runtime.collections
        user_search: dict[str, Any] = {
            "collection": aliases.alias("users"),
            "q": q,
            "query_by": "username_norm,display_name_norm",
            "prefix": True,
            "per_page": limit,
            "num_typos": 1,
            "drop_tokens_threshold": 0,
        }
        if (user_filter := flt.user_visibility_filter(viewer)) is not None:
            user_search["filter_by"] = user_filter
        community_search: dict[str, Any] = {
            "collection": aliases.alias("communities"),
            "q": q,
            "query_by": "name_norm,tags",
            "prefix": True,
            "per_page": limit,
            "num_typos": 1,
            "drop_tokens_threshold": 0,
            "sort_by": "_text_match:desc,member_count:desc",
        }
        if (community_filter := flt.community_visibility_filter(viewer)) is not None:
            community_search["filter_by"] = community_filter
        tag_search = {
            "collection": aliases.alias("posts"),
            "q": "*",
            "query_by": "text_norm",
            "filter_by": flt.post_visibility_filter(viewer),
            "facet_by": "hashtags",
            "facet_query": f"hashtags:{tag_prefix.replace('`', '')}",
            "max_facet_values": limit,
            "per_page": 0,
        }
        users, communities, tags = await self._multi([user_search, community_search, tag_search])
        facets = facets_of(tags).get("hashtags", [])
        return {
            "query": q,
            "users": [
                {
                    "id": h["document"]["id"],
                    "username": h["document"].get("username") or "",
                    "display_name": h["document"].get("display_name") or "",
                }
                for h in users.get("hits", [])
            ],
            "communities": [
                {
                    "id": h["document"]["id"],
                    "slug": h["document"].get("slug") or "",
                    "name": h["document"].get("name") or "",
                }
                for h in communities.get("hits", [])
            ],
            "hashtags": [f for f in facets if f["value"].startswith(tag_prefix)],
            "took_ms": round((time.perf_counter() - started) * 1000, 2),
        }


def all_results(q: str, pages: list[tuple[str, dict[str, Any]]], took_ms: float) -> dict[str, Any]:
    """An :class:`AllResults` dict: one page per collection asked for, ``None`` for the
    others."""
    norm = query_text(q)
    result: dict[str, Any] = {
        "query": norm if norm != "*" else "",
        "posts": None,
        "users": None,
        "communities": None,
        "took_ms": took_ms,
    }
    for kind, page in pages:
        result[kind] = page
    return result
