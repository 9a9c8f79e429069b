"""Filter building and visibility filter construction."""

from __future__ import annotations

from datetime import UTC, datetime

from search.query.filters import (
    CommunityFilters,
    PostFilters,
    Viewer,
    community_filter,
    post_filter,
    post_visibility_filter,
    quote,
    sort_by,
    user_visibility_filter,
)

ME = "11111111-1111-1111-1111-111111111111"
FRIEND = "22222222-2222-2222-2222-222222222222"
ENEMY = "33333333-3333-3333-3333-333333333333"
CLUB = "44444444-4444-4444-4444-444444444444"


def test_anonymous_sees_only_public_open_posts() -> None:
    assert post_visibility_filter(Viewer()) == "audience:=public && gate:=`open`"


def test_signed_in_viewer_without_graph_sees_own_and_open_non_follower_posts() -> None:
    assert post_visibility_filter(Viewer(user_id=ME)) == (
        f"author_id:=`{ME}` || ((gate:=[`open`]) && (audience:!=followers))"
    )


def test_followees_open_followers_only_posts_and_memberships_open_gates() -> None:
    viewer = Viewer(user_id=ME, followees=frozenset({FRIEND}), communities=frozenset({CLUB}))
    assert post_visibility_filter(viewer) == (
        f"author_id:=`{ME}` || ((gate:=[`{CLUB}`,`open`]) && "
        f"(audience:!=followers || author_id:=[`{FRIEND}`]))"
    )


def test_blocked_users_are_excluded_whatever_else_allows() -> None:
    viewer = Viewer(user_id=ME, followees=frozenset({ENEMY}), blocked=frozenset({ENEMY}))
    expression = post_visibility_filter(viewer)
    assert expression.endswith(f"&& author_id:!=[`{ENEMY}`]")
    assert expression.startswith("(author_id:=")


def test_user_filter_hides_both_sides_of_a_block() -> None:
    assert user_visibility_filter(Viewer(user_id=ME)) is None
    assert (
        user_visibility_filter(Viewer(user_id=ME, blocked=frozenset({ENEMY})))
        == f"user_id:!=[`{ENEMY}`]"
    )


def test_quote_drops_backticks_so_values_cannot_break_out() -> None:
    assert quote("a` || audience:=followers") == "`a || audience:=followers`"


def test_post_filter_combines_client_filters_with_visibility() -> None:
    filters = PostFilters(
        community_id=CLUB,
        author_id=FRIEND,
        tag="تعليم",
        kind="reel",
        has_media=True,
        created_from=datetime(2024, 1, 1, tzinfo=UTC),
        created_to=datetime(2024, 1, 2, tzinfo=UTC),
    )
    expression = post_filter(filters, Viewer())
    assert expression == (
        "(audience:=public && gate:=`open`) && (community_id:=`" + CLUB + "`) && "
        "(author_id:=`" + FRIEND + "`) && (hashtags:=`تعليم`) && (kind:=`reel`) && "
        "(has_media:=true) && (created_at:>=1704067200000) && (created_at:<=1704153600000)"
    )


def test_post_filter_without_client_filters_is_just_visibility() -> None:
    assert post_filter(PostFilters(), Viewer()) == post_visibility_filter(Viewer())


def test_community_filter() -> None:
    assert community_filter(CommunityFilters(), Viewer()) == ""
    assert community_filter(CommunityFilters(category="sport", tag="كرة"), Viewer()) == (
        "(category:=`sport`) && (tags:=`كرة`)"
    )


def test_sort_orders() -> None:
    assert sort_by("posts", "relevance", has_query=True) == "_text_match:desc,created_at:desc"
    assert sort_by("posts", "relevance", has_query=False) == "created_at:desc"
    assert sort_by("posts", "newest", has_query=True) == "created_at:desc"
    assert sort_by("posts", "score", has_query=True) == "score:desc,created_at:desc"
    assert sort_by("communities", "score", has_query=True) == "member_count:desc,_text_match:desc"
    assert sort_by("users", "score", has_query=True) == "_text_match:desc,created_at:desc"


def test_typo_thresholds_follow_the_script_of_the_query() -> None:
    from search.query.service import typo_lengths
    from search.settings import SearchSettings

    settings = SearchSettings(environment="test")
    assert typo_lengths("مدرسه", settings) == {"min_len_1typo": 10, "min_len_2typo": 10}
    assert typo_lengths("reading club", settings) == {"min_len_1typo": 4, "min_len_2typo": 7}
    assert typo_lengths("nlp معالجه", settings)["min_len_1typo"] == 10
