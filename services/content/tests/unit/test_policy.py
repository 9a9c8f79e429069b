from __future__ import annotations

import uuid
from datetime import UTC, datetime

from content.policy import (
    PostFacts,
    Relation,
    allowed_post_visibilities,
    can_delete,
    can_interact,
    can_view_post,
)

AUTHOR = uuid.uuid4()
VIEWER = uuid.uuid4()
COMMUNITY = uuid.uuid4()


def rel(**kw) -> Relation:
    return Relation(viewer_id=kw.pop("viewer_id", VIEWER), **kw)


def test_public_post_is_seen_by_everyone_but_anonymous_readers_cannot_interact():
    post = PostFacts(author_id=AUTHOR, visibility="public")
    assert can_view_post(post, rel())
    assert can_view_post(post, Relation(viewer_id=None))
    assert can_interact(post, rel())
    assert not can_interact(post, Relation(viewer_id=None))


def test_a_block_in_either_direction_hides_the_post_and_forbids_interaction():
    post = PostFacts(author_id=AUTHOR, visibility="public")
    assert not can_view_post(post, rel(blocked=True))
    assert not can_interact(post, rel(blocked=True, follows_author=True))


def test_followers_posts_need_a_follow_except_for_the_author():
    post = PostFacts(author_id=AUTHOR, visibility="followers")
    assert not can_view_post(post, rel())
    assert can_view_post(post, rel(follows_author=True))
    assert can_view_post(post, rel(viewer_id=AUTHOR))
    assert not can_view_post(post, Relation(viewer_id=None))


def test_private_community_posts_are_for_members_only_even_when_marked_public():
    post = PostFacts(
        author_id=AUTHOR,
        visibility="public",
        community_id=COMMUNITY,
        community_visibility="private",
    )
    assert not can_view_post(post, rel(follows_author=True))
    assert not can_view_post(post, Relation(viewer_id=None))
    assert can_view_post(post, rel(member=True))
    # The author who left a private community no longer sees its content either.
    assert not can_view_post(post, rel(viewer_id=AUTHOR))


def test_community_visibility_posts_in_a_public_community_are_for_members():
    post = PostFacts(
        author_id=AUTHOR,
        visibility="community",
        community_id=COMMUNITY,
        community_visibility="public",
    )
    assert not can_view_post(post, rel())
    assert can_view_post(post, rel(member=True))
    public = PostFacts(
        author_id=AUTHOR, visibility="public", community_id=COMMUNITY, community_visibility="public"
    )
    assert can_view_post(public, Relation(viewer_id=None))


def test_deleted_posts_are_seen_by_nobody():
    post = PostFacts(author_id=AUTHOR, visibility="public", deleted_at=datetime.now(UTC))
    assert not can_view_post(post, rel(viewer_id=AUTHOR))


def test_allowed_visibilities_depend_on_the_community():
    assert allowed_post_visibilities(None) == ("public", "followers")
    assert allowed_post_visibilities("public") == ("public", "community")
    assert allowed_post_visibilities("private") == ("community",)


def test_moderators_delete_others_content_members_do_not():
    assert can_delete(AUTHOR, AUTHOR, community_role=None)
    assert can_delete(AUTHOR, VIEWER, community_role="moderator")
    assert not can_delete(AUTHOR, VIEWER, community_role="member")
