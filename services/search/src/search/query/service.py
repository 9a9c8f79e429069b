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
from search.query.schemas import (
    AllResults,
    CommunityHit,
    CommunitySuggestion,
    FacetValue,
    PostHit,
    SearchPage,
    Suggestions,
    UserHit,
    UserSuggestion,
    from_ms,
)
from search.runtime import Runtime
from search.typesense import TypesenseError, TypesenseNotFound, TypesenseUnavailable

POST_FACETS = "hashtags,kind,community_id,author_id,has_media"
COMMUNITY_FACETS = "category,tags,visibility"
#: Typesense refuses to page past this many hits; cursors stop there.
MAX_DEPTH = 1000
SNIPPET_WORDS = 40


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
        "highlight_fields": QUERY_BY[req.kind],
        "highlight_full_fields": QUERY_BY[req.kind],
    }
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


def post_hit(hit: Mapping[str, Any]) -> PostHit:
    d = hit["document"]
    return PostHit(
        id=d["id"],
        author_id=d["author_id"],
        community_id=d.get("community_id"),
        kind=d["kind"],
        text=d.get("text", ""),
        hashtags=d.get("hashtags", []),
        mentions=d.get("mentions", []),
        media=d.get("media", []),
        visibility=d["audience"],
        reaction_count=d.get("reaction_count", 0),
        comment_count=d.get("comment_count", 0),
        score=d.get("score", 0.0),
        created_at=from_ms(d.get("created_at")),
        updated_at=from_ms(d.get("updated_at")),
        edited_at=from_ms(d.get("edited_at")),
        highlight=_highlights(hit),
    )


def user_hit(hit: Mapping[str, Any]) -> UserHit:
    d = hit["document"]
    return UserHit(
        id=d["id"],
        username=d.get("username", ""),
        display_name=d.get("display_name", ""),
        bio=d.get("bio") or None,
        avatar_url=d.get("avatar_url"),
        locale=d.get("locale") or None,
        highlight=_highlights(hit),
    )


def community_hit(hit: Mapping[str, Any]) -> CommunityHit:
    d = hit["document"]
    return CommunityHit(
        id=d["id"],
        slug=d.get("slug", ""),
        name=d.get("name", ""),
        description=d.get("description") or None,
        visibility=d.get("visibility", "public"),
        category=d.get("category"),
        tags=d.get("tags", []),
        member_count=d.get("member_count", 0),
        created_at=from_ms(d.get("created_at")),
        highlight=_highlights(hit),
    )


HIT_BUILDERS = {"posts": post_hit, "users": user_hit, "communities": community_hit}


def facets_of(result: Mapping[str, Any]) -> dict[str, list[FacetValue]]:
    return {
        facet["field_name"]: [
            FacetValue(value=str(c["value"]), count=int(c["count"])) for c in facet["counts"]
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

    async def search(self, reqs: list[Request]) -> list[tuple[SearchPage[Any], float]]:
        """Run ``reqs`` in one round trip; each page with the time it took (seconds)."""
        started = time.perf_counter()
        prepared = []
        for req in reqs:
            q = query_text(req.q)
            prepared.append((req, q, page_of(req, q)))
        results = await self._multi([self._params(r, q, p) for r, q, p in prepared])
        took = time.perf_counter() - started
        pages: list[tuple[SearchPage[Any], float]] = []
        for (req, q, page), result in zip(prepared, results, strict=True):
            build = HIT_BUILDERS[req.kind]
            found = int(result.get("found", 0))
            pages.append(
                (
                    SearchPage[Any](
                        items=[build(hit) for hit in result.get("hits", [])],
                        next_cursor=next_cursor(req, q, page, found),
                        found=found,
                        query="" if q == "*" else q,
                        facets=facets_of(result),
                        took_ms=round(took * 1000, 2),
                    ),
                    took,
                )
            )
        return pages

    async def suggest(self, prefix: str, viewer: flt.Viewer, limit: int) -> Suggestions:
        """Users, communities and hashtags starting with ``prefix`` (visible ones only)."""
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
        return Suggestions(
            query=q,
            users=[
                UserSuggestion(
                    id=h["document"]["id"],
                    username=h["document"].get("username", ""),
                    display_name=h["document"].get("display_name", ""),
                )
                for h in users.get("hits", [])
            ],
            communities=[
                CommunitySuggestion(
                    id=h["document"]["id"],
                    slug=h["document"].get("slug", ""),
                    name=h["document"].get("name", ""),
                )
                for h in communities.get("hits", [])
            ],
            hashtags=[f for f in facets if f.value.startswith(tag_prefix)],
            took_ms=round((time.perf_counter() - started) * 1000, 2),
        )


def all_results(q: str, pages: list[tuple[str, SearchPage[Any]]], took_ms: float) -> AllResults:
    result = AllResults(query=query_text(q) if query_text(q) != "*" else "", took_ms=took_ms)
    for kind, page in pages:
        setattr(result, kind, page)
    return result
