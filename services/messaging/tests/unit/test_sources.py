"""Which notifications other contexts' events deserve."""

from __future__ import annotations

import uuid

import pytest
from messaging.notifications.sources import (
    ModerationDecision,
    from_comment_created,
    from_follow,
    from_moderation_decision,
    from_post_created,
    from_reaction_added,
)
from pydantic import ValidationError

POST_AUTHOR = uuid.UUID(int=1)
COMMENTER = uuid.UUID(int=2)
PARENT_AUTHOR = uuid.UUID(int=3)
OTHER = uuid.UUID(int=4)
POST = uuid.UUID(int=100)
COMMENT = uuid.UUID(int=200)
PARENT = uuid.UUID(int=201)


def comment(**overrides: object) -> dict[str, object]:
    data: dict[str, object] = {
        "comment_id": str(COMMENT),
        "post_id": str(POST),
        "post_author_id": str(POST_AUTHOR),
        "author_id": str(COMMENTER),
        "parent_id": None,
        "text": "رائع",
        "mentions": [],
    }
    data.update(overrides)
    return data


def test_follow_notifies_the_followee_with_no_subject() -> None:
    [intent] = from_follow({"follower_id": str(COMMENTER), "followee_id": str(POST_AUTHOR)})
    assert (intent.recipient_id, intent.actor_id, intent.type) == (POST_AUTHOR, COMMENTER, "follow")
    assert intent.subject_id is None


def test_a_top_level_comment_notifies_the_post_author() -> None:
    [intent] = from_comment_created(comment(), None)
    assert (intent.type, intent.recipient_id, intent.subject_type, intent.subject_id) == (
        "comment",
        POST_AUTHOR,
        "post",
        POST,
    )


def test_a_reply_notifies_the_parent_author_and_the_post_author_once_each() -> None:
    intents = from_comment_created(comment(parent_id=str(PARENT)), PARENT_AUTHOR)
    assert [(i.type, i.recipient_id) for i in intents] == [
        ("reply", PARENT_AUTHOR),
        ("comment", POST_AUTHOR),
    ]
    assert intents[0].subject_id == PARENT
    # Replying on one's own post to someone: the post author is not told of their own comment.
    own = from_comment_created(
        comment(parent_id=str(PARENT), author_id=str(POST_AUTHOR)), PARENT_AUTHOR
    )
    assert [(i.type, i.recipient_id) for i in own] == [("reply", PARENT_AUTHOR)]


def test_mentions_in_a_comment_skip_the_author_and_those_already_told() -> None:
    intents = from_comment_created(
        comment(mentions=[str(POST_AUTHOR), str(OTHER), str(OTHER), str(COMMENTER)]), None
    )
    assert [(i.type, i.recipient_id) for i in intents] == [
        ("comment", POST_AUTHOR),
        ("mention", OTHER),
    ]
    assert intents[1].subject_type == "comment" and intents[1].subject_id == COMMENT


def test_post_mentions_notify_each_mentioned_user_but_not_the_author() -> None:
    intents = from_post_created(
        {
            "post_id": str(POST),
            "author_id": str(POST_AUTHOR),
            "mentions": [str(OTHER), str(POST_AUTHOR)],
        }
    )
    assert [(i.type, i.recipient_id, i.subject_id) for i in intents] == [("mention", OTHER, POST)]


def test_reaction_notifies_the_target_author_about_the_target() -> None:
    [intent] = from_reaction_added(
        {
            "target_type": "comment",
            "target_id": str(COMMENT),
            "post_id": str(POST),
            "target_author_id": str(PARENT_AUTHOR),
            "user_id": str(OTHER),
            "kind": "love",
        }
    )
    assert (intent.recipient_id, intent.actor_id, intent.subject_type, intent.subject_id) == (
        PARENT_AUTHOR,
        OTHER,
        "comment",
        COMMENT,
    )


def test_moderation_decision_notifies_the_subject_user_with_the_outcome() -> None:
    decision = ModerationDecision.model_validate(
        {
            "decision_id": str(COMMENT),
            "subject_user_id": str(OTHER),
            "outcome": "warning",
            "reason": "spam",
            "decided_at": "2025-11-22T10:00:00Z",
        }
    )
    [intent] = from_moderation_decision(decision)
    assert intent.recipient_id == OTHER and intent.actor_id is None
    assert intent.subject_type == "moderation_decision" and intent.subject_id == COMMENT
    assert intent.detail is not None and "spam" in intent.detail


@pytest.mark.parametrize(
    "broken",
    [
        {"subject_user_id": "nope"},
        {"outcome": ""},
        {"decided_at": "2025-11-22T10:00:00"},
        {"decision_id": None},
    ],
)
def test_moderation_decisions_with_unusable_data_are_refused(broken: dict[str, object]) -> None:
    data = {
        "decision_id": str(COMMENT),
        "subject_user_id": str(OTHER),
        "outcome": "warning",
        "reason": None,
        "decided_at": "2025-11-22T10:00:00Z",
    }
    data.update(broken)
    with pytest.raises(ValidationError):
        ModerationDecision.model_validate(data)
