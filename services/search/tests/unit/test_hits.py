"""Responses built as dicts serialise exactly as the documented response models do."""

from __future__ import annotations

from typing import Any

import orjson
from search.query.schemas import AllResults, CommunityHit, PostHit, SearchPage, UserHit
from search.query.service import all_results, community_hit, facets_of, post_hit, user_hit

POST = {
    "document": {
        "id": "p1",
        "author_id": "u1",
        "kind": "post",
        "text": "زرت <المكتبة> اليوم",
        "hashtags": ["قراءه"],
        "mentions": [],
        "media": [{"url": "https://x/y.jpg"}],
        "audience": "followers",
        "reaction_count": 3,
        "comment_count": 1,
        "score": 5,
        "created_at": 1764140400123,
        "updated_at": 1764140400000,
        "edited_at": None,
    },
    "highlights": [
        {"field": "text_norm", "matched_tokens": ["مكتبه"]},
        {"field": "hashtags", "values": ["قراءه"], "matched_tokens": [["قراءه"]]},
    ],
}
USER = {
    "document": {"id": "u1", "username": "sara", "display_name": "سارة", "bio": "", "locale": ""},
    "highlights": [{"field": "display_name_norm", "matched_tokens": ["ساره"]}],
}
COMMUNITY = {
    "document": {
        "id": "c1",
        "slug": "readers",
        "name": "القراء",
        "visibility": "private",
        "tags": ["كتب"],
        "member_count": 7,
        "created_at": 1764140400000,
    },
    "highlights": [],
}


def same_json(built: dict[str, Any], model: Any) -> None:
    assert orjson.loads(orjson.dumps(built)) == orjson.loads(model.model_dump_json())


def test_hits_match_their_response_models() -> None:
    for build, schema, hit in (
        (post_hit, PostHit, POST),
        (user_hit, UserHit, USER),
        (community_hit, CommunityHit, COMMUNITY),
    ):
        built = build(hit)
        same_json(built, schema.model_validate(built))


def test_post_hit_carries_highlights_timestamps_and_audience() -> None:
    hit = post_hit(POST)
    assert hit["highlight"]["text"] == "زرت <mark>&lt;المكتبة&gt;</mark> اليوم"
    assert hit["highlight"]["hashtags"] == "قراءه"
    assert hit["visibility"] == "followers"
    assert hit["created_at"] == "2025-11-26T07:00:00.123000Z"
    assert hit["updated_at"] == "2025-11-26T07:00:00Z"
    assert hit["edited_at"] is None and hit["score"] == 5.0


def test_pages_and_all_results_validate_against_their_models() -> None:
    facets = facets_of(
        {"facet_counts": [{"field_name": "kind", "counts": [{"value": "post", "count": 2}]}]}
    )
    page = {
        "items": [post_hit(POST)],
        "next_cursor": None,
        "found": 1,
        "query": "مكتبه",
        "facets": facets,
        "took_ms": 1.5,
    }
    same_json(page, SearchPage[PostHit].model_validate(page))
    result = all_results("المكتبة", [("posts", page)], 1.5)
    assert result["users"] is None and result["query"] == "مكتبه"
    same_json(result, AllResults.model_validate(result))
