"""Who may see and touch what: the visibility rules as plain functions.

Every read path and write path asks these functions, given the facts about the viewer
(``Relation``) that the repositories load. Nothing here does I/O.

Rules:

* a deleted post or comment is seen by nobody;
* a block in either direction hides everything of one from the other, and forbids
  commenting and reacting;
* a post in a private community, or with visibility ``community``, is seen only by the
  community's members (and its author while they are one);
* ``followers`` posts are seen by the author's followers;
* the author always sees their own live posts (except where they left a private
  community, whose content stays with its members).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

POST_VISIBILITIES = ("public", "followers", "community")
COMMUNITY_VISIBILITIES = ("public", "private")
ROLES = ("owner", "moderator", "member")
REACTION_KINDS = ("like", "love", "laugh", "wow", "sad", "angry")


@dataclass(frozen=True)
class PostFacts:
    """What the rules need to know about a post."""

    author_id: uuid.UUID
    visibility: str
    community_id: uuid.UUID | None = None
    community_visibility: str | None = None
    deleted_at: datetime | None = None


@dataclass(frozen=True)
class Relation:
    """What the rules need to know about the viewer's relation to a post's author and
    community. ``viewer_id`` None is an anonymous reader."""

    viewer_id: uuid.UUID | None
    blocked: bool = False  # a block exists in either direction between viewer and author
    follows_author: bool = False
    member: bool = False  # the viewer is a member of the post's community


def can_view_post(post: PostFacts, rel: Relation) -> bool:
    """True when the viewer may see the post (in a feed, a read or a search result)."""
    if post.deleted_at is not None:
        return False
    if rel.blocked:
        return False
    in_community = post.community_id is not None
    if in_community and (post.community_visibility != "public" or post.visibility == "community"):
        return rel.member
    if rel.viewer_id is not None and rel.viewer_id == post.author_id:
        return True
    if post.visibility == "followers":
        return rel.follows_author
    return post.visibility == "public"


def can_interact(post: PostFacts, rel: Relation) -> bool:
    """True when the viewer may comment on or react to the post.

    Anonymous readers never may; otherwise it is exactly seeing it.
    """
    return rel.viewer_id is not None and can_view_post(post, rel)


def can_view_community_content(community_visibility: str, *, member: bool) -> bool:
    """Members see everything of their community; others only a public one's."""
    return member or community_visibility == "public"


def can_manage_community(role: str | None) -> bool:
    """Owners and moderators change a community's settings."""
    return role in ("owner", "moderator")


def can_edit(author_id: uuid.UUID, viewer_id: uuid.UUID) -> bool:
    """Only the author edits their post or comment."""
    return author_id == viewer_id


def can_delete(author_id: uuid.UUID, viewer_id: uuid.UUID, *, community_role: str | None) -> bool:
    """The author, or a community's owner/moderator for content in that community."""
    return author_id == viewer_id or community_role in ("owner", "moderator")


def allowed_post_visibilities(community_visibility: str | None) -> tuple[str, ...]:
    """The visibilities a new post may take: anything outside a community; ``public``
    or ``community`` in a public community; only ``community`` in a private one."""
    if community_visibility is None:
        return ("public", "followers")
    if community_visibility == "public":
        return ("public", "community")
    return ("community",)
