"""Every Typesense call search makes, against the real server.

The server in the stack is 0.24.1; a call or parameter that needs a newer server fails
here first (Typesense answers 400/404 for parameters and routes it does not know).
"""

from __future__ import annotations

import uuid

import pytest
from search.collections import KINDS, Collections, collection_schema
from search.query.filters import PostFilters, Viewer, post_filter
from search.runtime import Runtime
from search.typesense import TypesenseError, TypesenseNotFound

pytestmark = pytest.mark.integration


async def test_server_is_the_version_search_is_written_for(runtime: Runtime) -> None:
    version = await runtime.typesense.version()
    assert version.startswith("0.24."), version


async def test_every_call_search_makes_is_accepted(runtime: Runtime) -> None:
    client = runtime.typesense
    collections = Collections(client, f"api{uuid.uuid4().hex[:6]}_")
    try:
        await collections.ensure_all()
        for kind in KINDS:
            assert await collections.current(kind) == collections.version_name(kind, 1)
        alias = collections.alias("posts")
        a, b = str(uuid.uuid4()), str(uuid.uuid4())
        base = {
            "text": "نص",
            "text_norm": "نص",
            "hashtags": ["وسم"],
            "audience": "public",
            "gate": "open",
            "kind": "post",
            "has_media": False,
            "reaction_count": 0,
            "comment_count": 0,
            "score": 0.0,
            "created_at": 1,
            "updated_at": 1,
            "edited_at": None,
            "media": [],
        }
        await client.upsert(alias, {**base, "id": a, "post_id": a, "author_id": a})
        assert (
            await client.import_documents(
                alias, [{**base, "id": b, "post_id": b, "author_id": b, "community_id": a}]
            )
            == 1
        )
        viewer = Viewer(
            user_id=a,
            followees=frozenset({b}),
            communities=frozenset({a}),
            blocked=frozenset({str(uuid.uuid4())}),
        )
        expression = post_filter(PostFilters(tag="وسم", kind="post"), viewer)
        [result, facets] = await client.multi_search(
            [
                {
                    "collection": alias,
                    "q": "نص",
                    "query_by": "text_norm,hashtags",
                    "query_by_weights": "2,1",
                    "filter_by": expression,
                    "facet_by": "hashtags,kind,community_id,author_id,has_media",
                    "max_facet_values": 10,
                    "sort_by": "_text_match:desc,created_at:desc",
                    "num_typos": 2,
                    "min_len_1typo": 4,
                    "min_len_2typo": 7,
                    "drop_tokens_threshold": 0,
                    "typo_tokens_threshold": 1,
                    "prefix": True,
                    "highlight_fields": "text_norm,hashtags",
                    "highlight_full_fields": "text_norm,hashtags",
                    "page": 1,
                    "per_page": 10,
                },
                {
                    "collection": alias,
                    "q": "*",
                    "query_by": "text_norm",
                    "facet_by": "hashtags",
                    "facet_query": "hashtags:وس",
                    "per_page": 0,
                },
            ]
        )
        assert result["found"] == 2
        assert facets["facet_counts"][0]["counts"][0]["value"] == "وسم"
        assert await client.delete_by_filter(alias, f"author_id:=`{b}`") == 1
        assert await client.delete(alias, a) is True
        assert await client.delete(alias, a) is False
        assert await client.get_document(alias, a) is None
        with pytest.raises(TypesenseError):
            await client.multi_search([{"collection": alias, "q": "x", "query_by": "nope"}])
        with pytest.raises(TypesenseNotFound):
            await client.get_collection(f"missing_{uuid.uuid4().hex}")
        v2 = await collections.create_next_version("posts")
        await client.upsert_alias(alias, v2)
        assert await collections.current("posts") == v2
        assert collection_schema("posts", v2)["name"] == v2
    finally:
        await collections.drop_all()
    assert await collections.versions("posts") == []
