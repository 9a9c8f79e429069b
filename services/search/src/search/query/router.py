"""The search API: posts, users, communities, all at once, and prefix suggestions.

Served under the service's own paths; the gateway exposes them as ``/v1/search/...``.
Anonymous callers see public content only; a signed-in caller also sees what their
follows and memberships open to them, and nothing across a block.
"""

from __future__ import annotations

import time
import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Query
from fastapi.responses import Response
from kit.auth import OptionalUser
from kit.errors import BadRequest, problem_responses

from search.arabic import normalise
from search.collections import Kind
from search.query import filters as flt
from search.query.schemas import (
    AllResults,
    CommunityHit,
    PostHit,
    SearchPage,
    Suggestions,
    UserHit,
)
from search.query.service import (
    COMMUNITY_FACETS,
    POST_FACETS,
    Request,
    Searcher,
    all_results,
)
from search.runtime import Rt

router = APIRouter(tags=["search"])

Q = Annotated[str, Query(max_length=200, description="Search text (Arabic, English or mixed)")]
Cursor = Annotated[str | None, Query(max_length=4096, description="Opaque cursor")]
Limit = Annotated[int, Query(ge=1, le=50, description="Hits per page")]
SortParam = Annotated[
    Literal["relevance", "newest", "score"], Query(description="Order of the hits")
]
Label = Annotated[str | None, Query(min_length=1, max_length=100)]
WithFacets = Annotated[
    bool,
    Query(
        description="Count facet values over every match (false: `facets` is empty; "
        "cheaper on broad queries, e.g. for search-as-you-type)"
    ),
]
ERRORS = problem_responses(400, 401, 422, 503)


# The handlers open no database transaction: the viewer's context comes from the
# runtime's cache/read pool and statistics are stored in batches (search.stats).
# Responses are serialised directly; the response models document their shape.


async def _viewer(rt: Rt, user: OptionalUser) -> flt.Viewer:
    return await rt.viewers.get(user.user_id if user else None)


def _json(payload: Any) -> Response:
    return Response(orjson.dumps(payload), media_type="application/json")


def _check_range(created_from: datetime | None, created_to: datetime | None) -> None:
    if created_from and created_to and created_from > created_to:
        raise BadRequest("`from` must not be after `to`.", title="Invalid date range")


@router.get("/posts", response_model=SearchPage[PostHit], responses=ERRORS)
async def search_posts(
    user: OptionalUser,
    rt: Rt,
    q: Q = "",
    community: uuid.UUID | None = None,
    author: uuid.UUID | None = None,
    tag: Label = None,
    kind: Literal["post", "reel"] | None = None,
    has_media: bool | None = None,
    created_from: Annotated[datetime | None, Query(alias="from")] = None,
    created_to: Annotated[datetime | None, Query(alias="to")] = None,
    sort: SortParam = "relevance",
    cursor: Cursor = None,
    limit: Limit = 20,
    facets: WithFacets = True,
) -> Response:
    """Posts matching ``q`` that the caller may see, with facets and highlights."""
    _check_range(created_from, created_to)
    viewer = await _viewer(rt, user)
    filters = flt.PostFilters(
        community_id=str(community) if community else None,
        author_id=str(author) if author else None,
        tag=flt_tag(tag),
        kind=kind,
        has_media=has_media,
        created_from=created_from,
        created_to=created_to,
    )
    req = Request(
        kind="posts",
        q=q,
        filter_by=flt.post_filter(filters, viewer),
        sort=sort,
        limit=limit,
        cursor=cursor,
        facets=POST_FACETS if facets else None,
        binding={**filters.__dict__, "viewer": viewer.user_id},
    )
    return _json(await _one(rt, req))


@router.get("/users", response_model=SearchPage[UserHit], responses=ERRORS)
async def search_users(
    user: OptionalUser,
    rt: Rt,
    q: Q = "",
    sort: Annotated[Literal["relevance", "newest"], Query()] = "relevance",
    cursor: Cursor = None,
    limit: Limit = 20,
) -> Response:
    """Users by username, display name or bio (never across a block)."""
    viewer = await _viewer(rt, user)
    req = Request(
        kind="users",
        q=q,
        filter_by=flt.user_visibility_filter(viewer) or "",
        sort=sort,
        limit=limit,
        cursor=cursor,
        binding={"viewer": viewer.user_id},
    )
    return _json(await _one(rt, req))


@router.get("/communities", response_model=SearchPage[CommunityHit], responses=ERRORS)
async def search_communities(
    user: OptionalUser,
    rt: Rt,
    q: Q = "",
    category: Label = None,
    tag: Label = None,
    visibility: Literal["public", "private"] | None = None,
    sort: SortParam = "relevance",
    cursor: Cursor = None,
    limit: Limit = 20,
    facets: WithFacets = True,
) -> Response:
    """Communities by name, tags or description, with category/tag/visibility facets."""
    viewer = await _viewer(rt, user)
    filters = flt.CommunityFilters(category=category, tag=flt_tag(tag), visibility=visibility)
    req = Request(
        kind="communities",
        q=q,
        filter_by=flt.community_filter(filters, viewer),
        sort=sort,
        limit=limit,
        cursor=cursor,
        facets=COMMUNITY_FACETS if facets else None,
        binding={**filters.__dict__, "viewer": viewer.user_id},
    )
    return _json(await _one(rt, req))


@router.get("/all", response_model=AllResults, responses=ERRORS)
async def search_all(
    user: OptionalUser,
    rt: Rt,
    q: Q = "",
    types: Annotated[
        list[Literal["posts", "users", "communities"]] | None,
        Query(alias="type", description="Collections to include (repeatable); default all"),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=20, description="Hits per collection")] = 5,
) -> Response:
    """The first hits of each collection in one round trip (no cursors: follow up with
    the collection's own endpoint)."""
    viewer = await _viewer(rt, user)
    wanted: list[Kind] = list(dict.fromkeys(types or ["posts", "users", "communities"]))
    reqs = []
    for kind in wanted:
        if kind == "posts":
            filter_by = flt.post_visibility_filter(viewer)
        elif kind == "users":
            filter_by = flt.user_visibility_filter(viewer) or ""
        else:
            filter_by = flt.community_visibility_filter(viewer) or ""
        reqs.append(
            Request(kind=kind, q=q, filter_by=filter_by, sort="relevance", limit=limit, cursor=None)
        )
    pages = await Searcher(rt).search(reqs)
    took = pages[0][1] if pages else 0.0
    for page, _ in pages:
        page["next_cursor"] = None
    found = sum(page["found"] for page, _ in pages)
    result = all_results(q, [(k, p) for k, (p, _) in zip(wanted, pages, strict=True)], took * 1000)
    rt.stats.record(collection="all", query=result["query"], found=found, latency_s=took)
    return _json(result)


@router.get("/suggest", response_model=Suggestions, responses=ERRORS)
async def suggest(
    user: OptionalUser,
    rt: Rt,
    q: Annotated[str, Query(min_length=1, max_length=50, description="What was typed so far")],
    limit: Annotated[int, Query(ge=1, le=10)] = 5,
) -> Response:
    """Completions for a prefix: users, communities and hashtags the caller may see."""
    started = time.perf_counter()
    viewer = await _viewer(rt, user)
    result = await Searcher(rt).suggest(q, viewer, limit)
    found = len(result["users"]) + len(result["communities"]) + len(result["hashtags"])
    rt.stats.record(
        collection="suggest",
        query=result["query"],
        found=found,
        latency_s=time.perf_counter() - started,
    )
    return _json(result)


def flt_tag(tag: str | None) -> str | None:
    """A hashtag filter in the indexed form (normalised, without '#')."""
    if tag is None:
        return None
    norm = normalise(tag).lstrip("#")
    if not norm:
        raise BadRequest("`tag` has no letters or digits.", title="Invalid tag")
    return norm


async def _one(rt: Rt, req: Request) -> dict[str, Any]:
    started = time.perf_counter()
    [(page, _)] = await Searcher(rt).search([req])
    rt.stats.record(
        collection=req.kind,
        query=page["query"],
        found=page["found"],
        latency_s=time.perf_counter() - started,
    )
    return page
